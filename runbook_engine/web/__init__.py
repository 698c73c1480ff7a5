"""The runbook as a notebook page: the static plan page and the live page of ``runbook serve``.

Only ``web.server`` imports the ASGI stack (Starlette, uvicorn); the page renderer and the run's
live model import nothing beyond the standard library and markdown-it, so ``runbook plan
--format html`` starts as fast as the other formats."""
