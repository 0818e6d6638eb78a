#!/usr/bin/env python
"""A real-browser test of the review widget: `make browser-test` (not part of the default CI run).

Installs Debian's chromium and chromium-driver when missing (apt-get, as root) and selenium into this Python when
missing; starts JupyterLab on 127.0.0.1 (a free port, a random token) in a temporary folder holding
`.ci/browser_fixture.ipynb`; runs that notebook in headless Chromium; then, as a person would, checks that no image
is broken, clicks *least certain* and *accept*, presses keys, types a subvolume id, adds a metastasis the network
missed by clicking it in *add* mode, picks another depth and back, drags the intensity slider, checks the journal
after each step and the browser console, and saves screenshots. Stops everything it started, also on failure.
Exit status 0 when every check passed.
"""
from __future__ import annotations
import argparse, json, os, secrets, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / 'browser_fixture.ipynb'


def say(*a): print('[browser-test]', *a, flush=True)


def ensure_chromium():
    "Paths of chromium and chromedriver, installed with apt-get when missing."
    found = lambda: (shutil.which('chromium') or shutil.which('chromium-browser'), shutil.which('chromedriver'))
    browser, driver = found()
    if browser and driver: return browser, driver
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        sys.exit("browser-test: chromium and chromedriver are missing; install them (Debian: "
                 "sudo apt-get install chromium chromium-driver) and run again")
    say('installing chromium and chromium-driver with apt-get ...')
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    subprocess.run(['apt-get', 'update', '-qq'], check=True, env=env)
    subprocess.run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'chromium', 'chromium-driver'], check=True, env=env)
    browser, driver = found()
    if not (browser and driver): sys.exit('browser-test: apt-get ran, but chromium or chromedriver is still not on PATH')
    return browser, driver


def ensure_selenium():
    try: import selenium  # noqa: F401
    except ImportError:
        say('installing selenium into', sys.executable)
        subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', 'selenium>=4.10'], check=True)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def wait_for(what, fn, timeout, every=0.25, fatal=()):
    "Call `fn` until it returns something truthy (returned) or `timeout` seconds pass (AssertionError naming `what`); `fatal` exceptions stop it."
    end, last = time.time() + timeout, None
    while time.time() < end:
        try:
            out = fn()
            if out: return out
        except fatal: raise
        except Exception as e: last = e          # the page may be mid-render
        time.sleep(every)
    raise AssertionError(f'timed out after {timeout:g} s waiting for {what}' + (f' (last error: {last})' if last else ''))


class Journal:
    def __init__(self, path): self.path, self.seen = Path(path), 0
    def entries(self):
        if not self.path.exists(): return []
        return [json.loads(l) for l in self.path.read_text().splitlines() if l.strip()]
    def expect(self, action, timeout=20, **fields):
        "Wait for a new entry with `action` (and `fields`) after the ones already checked; returns it."
        def look():
            for i, e in enumerate(self.entries()[self.seen:], self.seen):
                if e['action'] == action and all(e.get(k) == v for k, v in fields.items()):
                    self.seen = i + 1; return e
        return wait_for(f'journal entry {action} {fields or ""}', look, timeout)


def run(args):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    browser, driver_path = ensure_chromium()
    out = Path(args.out).resolve(); out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix='deepmact-browser-'))
    shutil.copy(FIXTURE, work / 'review_fixture.ipynb')
    settings = work / '.settings' / '@jupyterlab' / 'apputils-extension'        # no "Jupyter news?" toast over the page
    settings.mkdir(parents=True); (settings / 'notification.jupyterlab-settings').write_text('{"fetchNews": "false"}')
    port, token = free_port(), secrets.token_hex(16)
    base = f'http://127.0.0.1:{port}'
    log = open(out / 'jupyterlab.log', 'w')
    env = dict(os.environ, DEEPMACT_FIXTURE_DIR=str(work), MPLBACKEND='Agg', OMP_NUM_THREADS='2')
    say(f'JupyterLab on {base} in {work}')
    lab = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', '--ServerApp.ip=127.0.0.1',
                            f'--ServerApp.port={port}', '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}',
                            f'--ServerApp.root_dir={work}', '--LabApp.expose_app_in_browser=True',
                            f'--LabApp.user_settings_dir={work / ".settings"}', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
                           + (['--allow-root'] if os.geteuid() == 0 else []),
                           stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=work)
    driver, t0, checks = None, time.time(), []
    def ok(text): checks.append(text); say('ok:', text)
    try:
        wait_for('JupyterLab to answer', lambda: urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2).status == 200, 60)
        opts = webdriver.ChromeOptions()
        opts.binary_location = browser
        for a in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1400,1800', '--disable-gpu'):
            opts.add_argument(a)
        opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        driver = webdriver.Chrome(service=Service(driver_path), options=opts)
        driver.get(f'{base}/lab/tree/review_fixture.ipynb?token={token}&reset')
        js = driver.execute_script
        wait_for('the notebook and its kernel', lambda: js(
            "const a = window.jupyterapp; const w = a && a.shell.currentWidget;"
            "return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
            " && w.sessionContext.session.kernel.status === 'idle')"), 120)
        say('notebook open and kernel idle after %.0f s; running it (detection on a 128 x 256 x 256 scan)' % (time.time() - t0))
        js("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        t1 = time.time()
        def widget_or_error():
            errors = driver.find_elements(By.CSS_SELECTOR, '[data-mime-type="application/vnd.jupyter.stderr"], .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
            if errors: raise SystemError('the fixture notebook failed: ' + errors[0].text[-800:])
            return driver.find_element(By.CSS_SELECTOR, '.deepmact-review')
        ui = wait_for('the widget', widget_or_error, args.timeout, every=1, fatal=SystemError)
        wait_for('the widget images', lambda: len(ui.find_elements(By.TAG_NAME, 'img')) >= 7, 30)
        say('widget shown %.0f s after run-all' % (time.time() - t1))
        fixture = json.loads((work / 'fixture.json').read_text())
        journal, target = Journal(fixture['journal']), fixture['target']
        journal.expect('open')
        q = lambda css: ui.find_element(By.CSS_SELECTOR, css)
        button = lambda label: ui.find_element(By.XPATH, f".//button[normalize-space()='{label}']")
        status = lambda: q('.deepmact-status').text.strip()
        src = lambda css: q(css).get_attribute('src')
        hover = lambda el: ActionChains(driver).move_to_element(el).perform()

        # 1. what the page looks like before anything is done
        imgs = js("return [...arguments[0].querySelectorAll('img')].map(i => [i.className, i.complete, i.naturalWidth,"
                  " i.naturalHeight, i.clientWidth, i.clientHeight])", ui)
        broken = [i for i in imgs if not (i[1] and i[2] > 0)]
        assert not broken, f'broken images: {broken}'
        ok(f'{len(imgs)} images, none broken (slices show a placeholder before a candidate is selected)')
        for cls, _, nw, nh, cw, ch in imgs:
            assert abs(cw / ch - nw / nh) < 0.03 * nw / nh, f'{cls} drawn {cw} x {ch}, its picture is {nw} x {nh}'
        ov = [i for i in imgs if 'deepmact-overview' in i[0]][0]
        assert ov[4] <= ov[2], f'overview stretched: {ov[4]} px wide for a {ov[2]} px picture'
        ok(f'every image at its own aspect; overview {ov[4]} x {ov[5]} px for a {ov[2]} x {ov[3]} px picture')
        label = js("const l = arguments[0].querySelector('.widget-label'); return [l.textContent, l.scrollWidth, l.clientWidth]", q('.deepmact-cap'))
        assert label[0] == 'intensity cap' and label[1] <= label[2], f'slider label cut: {label}'
        ok(f"slider label '{label[0]}' in full ({label[1]} px of {label[2]} px)")
        placeholder = src('.deepmact-slice-0')

        # 2. least certain, accept (buttons); a candidate flag with none selected would say so; the message goes
        button('accept').click()
        wait_for('"select a candidate first"', lambda: 'select a candidate first' in status(), 10)
        button('least certain').click()
        first = journal.expect('select')['candidate']
        wait_for('the message to be replaced', lambda: 'select a candidate first' not in status(), 10)
        wait_for('slices of the selected candidate', lambda: src('.deepmact-slice-0') != placeholder, 10)
        ok(f'least certain selected candidate {first}; the old message is gone; slices drawn')
        button('accept').click()
        journal.expect('accept', candidate=first)
        wait_for('the status to say it', lambda: status().startswith(f'saved: accept {first}'), 10)
        ok(f'accept {first} journaled; status: {status()!r}')

        # 3. keys, with the mouse over the projections: n (least certain), r (reject)
        hover(q('.deepmact-view-1'))
        ActionChains(driver).send_keys('n').perform()
        second = journal.expect('select')['candidate']
        ActionChains(driver).send_keys('r').perform()
        journal.expect('reject', candidate=second)
        ok(f'keys n, r: candidate {second} selected and rejected')

        def go(sv):
            "Type subvolume `sv` into the box and click go."
            box = q('.deepmact-goto input')
            box.click(); box.send_keys(Keys.CONTROL, 'a'); box.send_keys(str(sv))
            assert box.get_attribute('value') == str(sv), f"typed {sv}, the box shows {box.get_attribute('value')!r}"
            button('go').click()
            wait_for(f'subvolume {sv} to be shown', lambda: f"subvolume {sv} (" in q('.deepmact-info').text, 10)
            if journal.entries()[-1].get('subvolume') != sv: journal.expect('goto', subvolume=sv)

        def add(t):
            "In add mode, click metastasis `t` of the fixture at the centre of its pixel; returns the journal's add entry."
            ui.find_element(By.XPATH, ".//div[contains(@class,'deepmact-mode')]//button[normalize-space()='add']").click()
            view = q(f".deepmact-view-{t['view']}")
            js("arguments[0].scrollIntoView({block: 'center'})", view)
            left, top, cw, ch, nw, nh = js("const i = arguments[0], r = i.getBoundingClientRect();"
                                           "return [r.left, r.top, r.width, r.height, i.naturalWidth, i.naturalHeight]", view)
            click = ActionBuilder(driver)              # to the pixel's centre, in the page's own (viewport) coordinates
            click.pointer_action.move_to_location(int(round(left + (t['col'] + 0.5) * cw / nw)), int(round(top + (t['row'] + 0.5) * ch / nh)))
            click.pointer_action.click(); click.perform()
            added = journal.expect('add', timeout=30)
            assert added['click'] == [t['row'], t['col']], f"clicked pixel {added['click']}, aimed at {[t['row'], t['col']]}"
            truth = {tuple(p) for p in t['voxels']}
            hit = len(truth & {tuple(p) for p in added['points']})
            assert hit > 0, (f"the added outline ({len(added['points'])} voxels at {added['seed']}, choice {added['choice']} "
                             f"of {added['depths']}) misses metastasis {t['metastasis_id']}")
            wait_for('the outline to be drawn', lambda: f"#{added['candidate']} accept" in q('select').text, 20)
            return added, truth, hit

        # 4. type the target's subvolume into the box and go (typing works there: keys act only over the views)
        go(target['subvolume'])
        ok(f"typed subvolume {target['subvolume']} and went there")

        # 5. add mode, a click on the missed metastasis in the projection along z
        added, truth, hit = add(target)
        ok(f"add at {added['click']}: {len(added['points'])} voxels, {hit} of the {len(truth)} of missed metastasis "
           f"{target['metastasis_id']} (the brightest voxel on that ray {'lies elsewhere' if target['brightest_misses'] else 'is in it'}); "
           f"{len(added['depths'])} depth(s) offered")

        # 6. another depth (a button), the key d, and back with the first depth's button
        if len(added['depths']) < 2:
            t = fixture['depth_target']
            if t['subvolume'] != target['subvolume']: go(t['subvolume'])
            added, truth, hit = add(t)
            ok(f"add at {added['click']} on metastasis {t['metastasis_id']}{'' if t['missed'] else ' (found by the network too)'}: "
               f"{len(added['depths'])} depths offered")
        n = len(added['depths'])
        assert n > 1, 'no metastasis of the fixture offers a second depth'
        labels = [b.text for b in wait_for(f"{n} depth buttons", lambda: (lambda b: len(b) == n and b)(
            ui.find_elements(By.CSS_SELECTOR, '.deepmact-depths button')), 20)]
        for k in [i for i in range(n) if i != added['choice']][:1]:
            ui.find_elements(By.CSS_SELECTOR, '.deepmact-depths button')[k].click()
            moved = journal.expect('move', candidate=added['candidate'], choice=k, timeout=15)
            ok(f"depth button {labels[k]!r}: moved to {moved['seed']} ({len(moved['points'])} voxels)")
        hover(q('.deepmact-view-2'))
        ActionChains(driver).send_keys('d').perform()
        moved = journal.expect('move', candidate=added['candidate'], timeout=15)
        ok(f"key d: moved to depth {moved['choice']} ({len(moved['points'])} voxels)")
        if moved['choice'] != added['choice']:
            wait_for('the depth buttons to follow', lambda: 'mod-active' in ui.find_elements(
                By.CSS_SELECTOR, '.deepmact-depths button')[moved['choice']].get_attribute('class'), 10)
            ui.find_elements(By.CSS_SELECTOR, '.deepmact-depths button')[added['choice']].click()
            moved = journal.expect('move', candidate=added['candidate'], choice=added['choice'], timeout=15)
        assert truth & {tuple(p) for p in moved['points']}, 'back on the first depth, the outline covers the metastasis'
        ok(f"back on the first depth {labels[added['choice']]!r}: the outline covers the metastasis again")

        # 7. the intensity cap slider: drag its handle; the projections are redrawn, the journal is not touched
        before, readout = src('.deepmact-view-0'), q('.deepmact-cap .widget-readout').text
        n_entries = len(journal.entries())
        handle = q('.deepmact-cap .noUi-handle')
        ActionChains(driver).click_and_hold(handle).move_by_offset(-120, 0).release().perform()
        wait_for('the slider readout to change', lambda: q('.deepmact-cap .widget-readout').text != readout, 10)
        wait_for('the projections to be redrawn', lambda: src('.deepmact-view-0') != before, 10)
        assert len(journal.entries()) == n_entries, 'moving the slider wrote to the journal'
        ok(f"slider: intensity cap {readout} -> {q('.deepmact-cap .widget-readout').text}, projections redrawn")

        # 8. the journal as a whole, the console, screenshots
        actions = [e['action'] for e in journal.entries()]
        for a in ('open', 'select', 'accept', 'reject', 'add'): assert a in actions, f'no {a} in the journal'
        say('journal:', ' '.join(actions))
        severe = [l for l in driver.get_log('browser') if l['level'] == 'SEVERE' and 'favicon' not in l['message']]
        for l in severe: say('console:', l['message'][:300])
        assert not severe, f'{len(severe)} error(s) in the browser console'
        ok('no error in the browser console')
        hover(q('.deepmact-info'))
        driver.execute_script('arguments[0].scrollIntoView()', ui)
        driver.save_screenshot(str(out / 'screenshot.png')); ui.screenshot(str(out / 'widget.png'))
        say(f'screenshots: {out / "screenshot.png"}, {out / "widget.png"}')
        say(f'PASSED: {len(checks)} checks in {time.time() - t0:.0f} s')
        return 0
    except Exception as e:
        say(f'FAILED after {time.time() - t0:.0f} s: {type(e).__name__}: {e}')
        log.flush(); say('last lines of the JupyterLab log:\n' + ''.join((out / 'jupyterlab.log').read_text().splitlines(True)[-8:]))
        if driver is not None:
            try: driver.save_screenshot(str(out / 'failure.png')); say('screenshot of the failure:', out / 'failure.png')
            except Exception: pass
        return 1
    finally:
        if driver is not None: driver.quit()
        try: urllib.request.urlopen(urllib.request.Request(f'{base}/api/shutdown?token={token}', method='POST'), timeout=5)
        except Exception: pass
        try: lab.wait(20)
        except subprocess.TimeoutExpired: pass
        try: os.killpg(lab.pid, signal.SIGTERM)   # its kernels, if the shutdown left any
        except ProcessLookupError: pass
        log.close()
        if not args.keep: shutil.rmtree(work, ignore_errors=True)
        say('stopped JupyterLab (and its kernel) and the browser; log:', out / 'jupyterlab.log')


def main():
    p = argparse.ArgumentParser(prog='browser_test.py', description=__doc__.splitlines()[0])
    p.add_argument('--out', default=os.path.join(tempfile.gettempdir(), 'deepmact-browser-test'),
                   help='folder for the screenshots and the JupyterLab log (default: %(default)s)')
    p.add_argument('--timeout', type=float, default=300, help='seconds to wait for the fixture notebook to show the widget')
    p.add_argument('--keep', action='store_true', help='keep the temporary JupyterLab folder (fixture, run, journal)')
    args = p.parse_args()
    ensure_selenium()
    sys.exit(run(args))


if __name__ == '__main__':
    main()
