"""一表通: report templates, pre-fill from the base library, signed workbooks out, hostile-proof
returns in, roll-up and form states (see README, "一表通"). The staff portal is `reports.portal`."""
