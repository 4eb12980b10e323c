"""Steps shared by the browser tests."""

# Every value the progress bar takes, recorded in the page itself; and the last run's outcome
# cleared, so the wait below sees this run's.
RECORD_PROGRESS = """
window.__progress = [];
delete document.getElementById('run-summary').dataset.status;
new MutationObserver(() => window.__progress.push(Number(document.getElementById('run-progress').value)))
  .observe(document.getElementById('run-progress'), { attributes: true, attributeFilter: ['value'] });
"""


def press_and_follow(page, selector: str) -> tuple[str, list[float]]:
    """Press a button that starts a sync run (integrations/static/integrations/sync-run.js),
    wait for its summary, and return the summary and the progress values seen."""
    page.evaluate(RECORD_PROGRESS)
    page.click(selector)
    page.wait_for_function(
        "['succeeded', 'partial', 'failed', 'refused'].includes("
        "document.getElementById('run-summary').dataset.status)",
        timeout=60_000,
    )
    return page.inner_text("#run-summary"), page.evaluate("window.__progress")


def console_errors(page) -> list[str]:
    """The page's console errors from now on (a 409 the page provoked shows up here)."""
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    return errors
