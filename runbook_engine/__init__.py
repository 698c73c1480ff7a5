"""runbook-engine: step through Markdown runbooks, locally or over SSH, with a transcript."""

__version__ = "0.1.0"
