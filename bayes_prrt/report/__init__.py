"""Output: tables, text, the HTML report and the results folder."""
