"""The stakeholder reports: their queries, formats (JSON, CSV, text table) and the HTML page."""
