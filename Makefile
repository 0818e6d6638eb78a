# The two commands of the README. Both create or reuse .venv (torch==2.13.0 first, then deepmact[dev]).
.PHONY: demo test env browser-test
env:
	@bash .ci/venv.sh
demo: env
	@.venv/bin/deepmact demo --out data/demo
test: env
	@bash .ci/test_notebooks.sh
# Not part of CI: the review widget in JupyterLab with headless Chromium (installs chromium, chromedriver, selenium when missing).
browser-test: env
	@.venv/bin/python .ci/browser_test.py
