"""citybase: departmental sources → checked, resolved base library → pre-filled 一表通 workbooks."""
