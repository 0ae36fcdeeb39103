"""Great Expectations suites for the standardized tables, and the bridge that runs them.

    expectations/suites/<table>.json   one GX 1.x suite per standardized table (GX's JSON format)
    expectations.bridge                load_suite / validate / suite_path / available_suites
    expectations.custom                citybase's custom expectations (Chinese ID number, USCC)

Importing this package does not import Great Expectations (seconds): the bridge does, on the
first suite it loads or the first validation it runs.
"""

from expectations.bridge import (
    BATCH_FACTS,
    ExpectationOutcome,
    SuiteError,
    SuiteResult,
    available_suites,
    batch_facts,
    default_mask,
    get_context,
    load_suite,
    suite_path,
    validate,
)

__all__ = [
    "BATCH_FACTS",
    "ExpectationOutcome",
    "SuiteError",
    "SuiteResult",
    "available_suites",
    "batch_facts",
    "default_mask",
    "get_context",
    "load_suite",
    "suite_path",
    "validate",
]
