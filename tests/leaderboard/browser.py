"""Re-export: the headless-Chromium helper lives in vbench.testing.browser (shared by every browser test)."""
from vbench.testing.browser import chrome, find_browser, serve  # noqa: F401
