"""The staff portal (`citybase portal`): see `reports.portal.app`."""
