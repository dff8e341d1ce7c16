"""The dashboard end to end in a real browser: headless Chromium driven by Selenium against a real
airlockd (one airlock-sim engine), an admin made with the `airlock` CLI. Through the pages only:
sign in, make an org, an environment and a key (its secret shown once), then a chat completion
with that key from the official `openai` client, and the request found again on the usage page.
Every other page is opened; the hostile checks (a wrong password, markup in the user name, no
script anywhere, the security headers) ride along. A full-page PNG of every page goes to
$AIRLOCK_E2E_OUTPUT/dashboard (default <repo>/e2e-output/dashboard) for a human to look at.

Skipped, with the reason printed, where Selenium, /usr/bin/chromium or /usr/bin/chromedriver is
missing (Debian: apt-get install chromium chromium-driver; pip install selenium)."""

import base64
import os
import re
import subprocess
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import warnings

import openai

from appliance import BIN, Appliance, Engine

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUTPUT = os.path.join(os.environ.get("AIRLOCK_E2E_OUTPUT", os.path.join(REPO, "e2e-output")), "dashboard")

USER = "e2e-admin"
PASSWORD = "correct horse battery staple"
ORG = "browser-co"
ENV = "prod"
KEY_NAME = "browser-key"
MODEL = "sim-small"


def browser_or_skip():
    """The Selenium module, or SkipTest saying (and printing) what is missing."""
    try:
        from selenium import webdriver  # noqa: F401
    except ImportError as error:
        reason = f"selenium cannot be imported ({error}); pip install selenium"
    else:
        missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
        if not missing:
            return webdriver
        reason = f"{' and '.join(missing)} missing; apt-get install chromium chromium-driver"
    print(f"\ntest_dashboard skipped: {reason}")
    raise unittest.SkipTest(reason)


class DashboardTest(unittest.TestCase):
    """One signed-in browser for the whole class; the tests run in name order (test_1…, test_2…)
    because the later ones use what the earlier made (the key, the request it sent)."""

    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        webdriver = browser_or_skip()
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select
        cls.By, cls.Select = By, Select
        os.makedirs(OUTPUT, exist_ok=True)
        for old in os.listdir(OUTPUT):
            if old.endswith(".png"):
                os.remove(os.path.join(OUTPUT, old))
        cls.shots = []
        cls.widths = {}
        cls.state = {}
        cls.started = time.time()
        cls.engine = Engine("--model", MODEL, "--tokens-per-second", "1000")
        cls.app = Appliance([("sim-a", MODEL, cls.engine.url)])
        try:
            created = subprocess.run([os.path.join(BIN, "airlock"), "--json", "user", "create", USER, "--role", "admin"],
                                     env=cls.app.env, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
            assert created.returncode == 0, created.stderr
            cls.app.start()
            options = webdriver.ChromeOptions()
            options.binary_location = CHROMIUM
            for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                             "--ignore-certificate-errors"):
                options.add_argument(argument)
            # The appliance's CA is private to this test run: accepted here only, never trusted.
            options.accept_insecure_certs = True
            cls.driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
            cls.driver.set_page_load_timeout(30)
        except BaseException:
            cls.app.cleanup()
            cls.engine.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        driver = getattr(cls, "driver", None)
        if driver:
            driver.quit()
        cls.app.cleanup()
        cls.engine.stop()
        print(f"\ndashboard screenshots ({len(cls.shots)}) in {OUTPUT}: {', '.join(cls.shots)}"
              f"\ndashboard e2e took {time.time() - cls.started:.1f} s")

    # --- helpers ---------------------------------------------------------------------------------

    def open(self, path):
        self.driver.get(self.app.base + path)
        return self.driver

    def click(self, element):
        """Clicks something that navigates, and waits for the next page: a click returns before
        the browser has left the old page, and on a busy machine the check would see it."""
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait
        old = self.driver.find_element("tag name", "html")
        element.click()

        def left(driver):
            # Selenium's staleness_of expects StaleElementReferenceException; newer Chromium also
            # answers "Node with given id does not belong to the document" while the old page goes.
            try:
                old.is_enabled()
                return False
            except StaleElementReferenceException:
                return True
            except WebDriverException as error:
                if "does not belong to the document" in str(error):
                    return True
                raise
        WebDriverWait(self.driver, 20).until(left)

    def path(self):
        return urllib.parse.urlsplit(self.driver.current_url).path

    def one(self, css):
        return self.driver.find_element(self.By.CSS_SELECTOR, css)

    def all(self, css):
        return self.driver.find_elements(self.By.CSS_SELECTOR, css)

    def shot(self, name):
        """A PNG of the whole page, not only the 1280x1000 viewport (Chromium's DevTools protocol)."""
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width, height = max(1280, int(size["width"])), max(200, int(size["height"]))
        image = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        self.widths[name] = int(size["width"])
        name = f"{len(self.shots) + 1:02d}-{name}.png"
        with open(os.path.join(OUTPUT, name), "wb") as f:
            f.write(base64.b64decode(image["data"]))
        self.shots.append(name)

    def assert_page_sane(self, title):
        """Rendered, styled, no script, no error page."""
        source = self.driver.page_source
        self.assertEqual(self.driver.title, f"{title} · Airlock", self.driver.current_url)
        self.assertNotIn("<script", source.lower())
        self.assertEqual(self.all("#error"), [], f"{self.driver.current_url} shows an error")
        self.assertEqual(self.one("h1").text, title)
        # The stylesheet loaded (the CSP allows only it): the header is dark, as airlock.css says.
        self.assertEqual(self.one("header").value_of_css_property("background-color"), "rgba(16, 24, 40, 1)")
        return source

    def table_rows(self, css):
        return [[cell.text for cell in row.find_elements(self.By.CSS_SELECTOR, "td")]
                for row in self.all(f"{css} tbody tr")]

    def session_cookie(self):
        cookie = self.driver.get_cookie("airlock_session")
        self.assertIsNotNone(cookie, "no session cookie after signing in")
        return cookie

    def fetch(self, path, cookie=None, data=None, headers=None):
        """(status, headers, body) from the appliance over HTTPS verified with its own CA."""
        request = urllib.request.Request(self.app.base + path, data=data, headers=dict(headers or {}))
        if cookie:
            request.add_header("Cookie", cookie)
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self.app.tls_context()), NoRedirect)
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def sign_in(self, name, password):
        self.open("/login")
        self.one("form#login input[name=name]").send_keys(name)
        self.one("form#login input[name=password]").send_keys(password)
        self.click(self.one("button#sign-in"))

    # --- 1: the sign-in page and its refusals ----------------------------------------------------

    def test_1_login_refuses_and_escapes(self):
        self.open("/")
        self.assertEqual(self.path(), "/login", "an anonymous browser must land on the sign-in page")
        self.assert_page_sane("Sign in")
        self.assertEqual([e.get_attribute("name") for e in self.all("form#login input:not([type=hidden])")], ["name", "password"])
        self.shot("login")

        self.sign_in(USER, "not the password at all")
        self.assertEqual(self.path(), "/login")
        self.assertIn("wrong user name or password", self.one("#error").text)
        self.assertIsNone(self.driver.get_cookie("airlock_session"))
        self.shot("login-wrong-password")

        hostile = "<script>alert(1)</script>"
        self.sign_in(hostile, "whatever-whatever")
        source = self.driver.page_source
        self.assertIn("wrong user name or password", self.one("#error").text)
        self.assertNotIn("<script", source.lower(), "markup from the user name field reached the page")
        self.assertNotIn("alert(1)", source)  # not echoed at all (the form is not re-filled)

        # The same refusal without a browser: a 401, never a 500, with the security headers.
        status, headers, body = self.fetch("/login")
        self.assertEqual(status, 200)
        token = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
        cookie = headers["Set-Cookie"].split(";")[0]
        form = urllib.parse.urlencode({"csrf": token, "name": hostile, "password": "x" * 12}).encode()
        status, headers, body = self.fetch("/login", cookie=cookie, data=form,
                                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 401, body[:500])
        self.assertNotIn("<script", body.lower())
        self.assertIn("default-src 'self'", headers["Content-Security-Policy"])
        # A sign-in form posted without its double-submit cookie is refused as expired (403).
        status, _, body = self.fetch("/login", data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 403, body[:500])
        self.assertIn("expired", body)

    # --- 2: sign in, tenants, a key shown once -----------------------------------------------------

    def test_2_sign_in_and_make_a_key(self):
        self.sign_in(USER, PASSWORD)
        self.assertEqual(self.path(), "/", "signing in must land on the overview")
        self.assert_page_sane("Overview")
        for card in ("#req-rate", "#error-rate", "#token-rate", "#nodes-up", "#license"):
            self.assertTrue(self.one(f"{card} .value").text.strip(), f"overview card {card} is empty")
        self.assertIn("days left", self.one("#license .value").text)
        self.assertIn(f"{USER} · admin", self.one("header .who").text)
        self.assertEqual(len(self.all("form#sign-out")), 1)
        self.shot("overview")

        self.click(self.one("header nav a[href='/tenants']"))
        self.assertEqual(self.path(), "/tenants")
        self.assert_page_sane("Tenants")
        self.one("form#create-org input[name=name]").send_keys(ORG)
        self.click(self.one("form#create-org button[type=submit]"))
        self.assertEqual(self.path(), "/tenants")
        links = [a for a in self.all("a.org-link") if a.text == ORG]
        self.assertEqual(len(links), 1, "the new org is not listed")
        self.shot("tenants")
        self.click(links[0])
        org_path = self.path()
        self.assertRegex(org_path, r"^/tenants/org_")
        self.assert_page_sane(ORG)
        self.one("form#create-env input[name=name]").send_keys(ENV)
        self.click(self.one("form#create-env button[type=submit]"))
        self.assertEqual(self.path(), org_path)
        self.assertIn(ENV, [h.text.split()[0] for h in self.all("h2.env")])
        self.one("form.create-key input[name=name]").send_keys(KEY_NAME)
        self.one("form.create-key input[name=models]").send_keys(MODEL)
        self.shot("org")
        self.click(self.one("form.create-key button[type=submit]"))

        self.assert_page_sane("New API key")
        secret = self.one("code#new-key-secret").text.strip()
        self.assertRegex(secret, r"^\S{20,}$")
        self.shot("new-key")
        self.state.update(secret=secret, org_path=org_path)

        # Shown once. Back returns to the org page as it was (Chromium may restore it from its
        # back/forward cache, without the new key): the secret is nowhere on it.
        self.driver.back()
        self.assertEqual(self.path(), org_path)
        self.assertNotIn(secret, self.driver.page_source)
        self.assertEqual(self.all("#new-key-secret"), [])
        # Forward again goes to a POST's answer that was never stored (no-store): not the secret.
        self.driver.forward()
        self.assertNotIn(secret, self.driver.page_source)
        self.driver.back()
        # Reloaded, and by the link from the tenants page: the key is listed by its prefix only.
        for _ in range(2):
            self.driver.refresh()
            self.assertEqual(self.path(), org_path)
            self.assertNotIn(secret, self.driver.page_source)
            self.assertEqual(self.all("#new-key-secret"), [])
            rows = [row for row in self.table_rows("table") if len(row) > 1 and row[1] == KEY_NAME]
            self.assertEqual(len(rows), 1, f"the new key is not listed on its org page: {self.table_rows('table')}")
            prefix = rows[0][2].rstrip("…")
            self.assertTrue(prefix and secret.startswith(prefix) and len(prefix) < len(secret), rows[0])
            self.assertEqual((rows[0][3], rows[0][4]), ("active", MODEL))
            self.open("/tenants")
            self.click([a for a in self.all("a.org-link") if a.text == ORG][0])
        status, _, body = self.fetch(org_path, cookie="airlock_session=" + self.session_cookie()["value"])
        self.assertEqual(status, 200)
        self.assertNotIn(secret, body)

    # --- 3: the key serves a request, and the usage page shows it ------------------------------------

    def test_3_usage_shows_the_request(self):
        secret = self.state.get("secret")
        self.assertIsNotNone(secret, "test_2 made no key")
        client = openai.OpenAI(base_url=self.app.base + "/v1", api_key=secret, max_retries=0,
                               http_client=openai.DefaultHttpxClient(verify=self.app.ca_file))
        completion = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hello from the browser test"}],
                                                     max_tokens=5)
        self.assertEqual(completion.usage.completion_tokens, 5)
        self.assertEqual(len(self.app.ledger_row(completion._request_id)), 1, "the request never reached the ledger")

        # By the minute over the last hour (the default range, 24 hours, is too many minutes:
        # see test_3a).
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        self.open(f"/usage?bucket=minute&group_by=org&from={since}")
        self.assert_page_sane("Usage")
        self.assertEqual(self.Select(self.one("#usage-filter select[name=bucket]")).first_selected_option.text, "minute")
        self.assertEqual(self.Select(self.one("#usage-filter select[name=group_by]")).first_selected_option.text, "org")
        rows = {row[0]: row for row in self.table_rows("#usage-table")}
        self.assertIn(ORG, rows, "the org is missing from the usage table")
        self.assertGreaterEqual(int(rows[ORG][1]), 1)
        self.assertGreaterEqual(int(rows[ORG][3]), 5)
        titles = [t.get_attribute("textContent") for t in self.all("#usage-chart rect title")]
        counts = [int(m.group(1)) for m in (re.search(re.escape(f" {ORG}: ") + r"(\d+) requests$", t) for t in titles) if m]
        self.assertTrue(counts and sum(counts) >= 1, f"no bar for {ORG} in the chart: {titles}")
        self.shot("usage")

        csv_link = self.one("a#usage-csv").get_attribute("href")
        self.assertIn("/usage.csv?group_by=org&bucket=minute", csv_link)
        status, headers, body = self.fetch(urllib.parse.urlsplit(csv_link)._replace(scheme="", netloc="").geturl(),
                                           cookie="airlock_session=" + self.session_cookie()["value"])
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/csv"))
        self.assertIn(ORG, body)

        # The filter form itself: group by model, by the hour (the form keeps no range).
        self.Select(self.one("#usage-filter select[name=group_by]")).select_by_value("model")
        self.Select(self.one("#usage-filter select[name=bucket]")).select_by_value("hour")
        self.click(self.one("#usage-filter button[type=submit]"))
        self.assertIn("group_by=model", self.driver.current_url)
        self.assert_page_sane("Usage")
        self.assertIn(MODEL, [row[0] for row in self.table_rows("#usage-table")])

    def test_3a_minute_buckets_with_the_default_range(self):
        # Minute buckets with no explicit range, as the filter form sends them when "minute" is
        # chosen: the page must show the usage, not an error.
        self.assertIsNotNone(self.state.get("secret"), "test_2 made no key")
        self.open("/usage?bucket=minute&group_by=org")
        errors = [e.text for e in self.all("#error")]
        self.assertEqual(errors, [], "/usage?bucket=minute (the default 24-hour range) is refused")
        self.assert_page_sane("Usage")
        self.assertIn(ORG, [row[0] for row in self.table_rows("#usage-table")])

    # --- 4: the other pages --------------------------------------------------------------------

    def test_4_other_pages(self):
        self.assertIsNotNone(self.state.get("secret"), "test_2 made no key")
        cookie = "airlock_session=" + self.session_cookie()["value"]

        self.open("/nodes")
        source = self.assert_page_sane("Nodes")
        self.assertIn("sim-a", source)
        self.shot("nodes")

        # The chargeback report holds the request test_3 sent, from the ledger.
        self.open("/chargeback?group_by=org,model")
        self.assert_page_sane("Chargeback")
        rows = self.table_rows("#chargeback-table")
        self.assertTrue(rows and all(int(row[2]) >= 1 for row in rows), rows)
        self.assertIn("ledger head", self.one("#chargeback-head").text)
        self.shot("chargeback")

        self.open("/models")
        self.assert_page_sane("Models")
        self.assertEqual(len(self.all("form#add-model")), 1)
        self.shot("models")

        self.open("/license")
        self.assert_page_sane("Licence")
        rows = {row[0]: row[1] for row in self.table_rows("table#license")}
        self.assertEqual((rows["Licence"], rows["Customer"]), ("e2e", "Airlock e2e"))
        self.assertEqual(rows["State"], "active")
        self.shot("license")

        self.open("/audit")
        self.assert_page_sane("Audit log")
        self.click(self.one("a[href='/audit?verify=1']"))
        self.assertIn("verify=1", self.driver.current_url)
        verification = self.one("#verification").text
        self.assertIn("intact", verification)
        self.assertNotIn("broken", verification)
        rows = self.table_rows("#audit-table")
        made = [row for row in rows if row[3] == "key.create" and row[2] == f"user:{USER}"]
        self.assertEqual(len(made), 1, f"no key.create row by user:{USER}: {[r[2:4] for r in rows]}")
        self.assertNotIn(self.state["secret"], self.driver.page_source)
        self.assertTrue(any(row[3] == "org.create" and row[2] == f"user:{USER}" for row in rows))
        # test_1's hostile user name is in the audit log, shown as text (escaped), not as markup.
        hostile = [row for row in rows if row[3] == "user.login_failed" and row[2] == "user:<script>alert(1)</script>"]
        self.assertGreaterEqual(len(hostile), 1, [r[2:4] for r in rows])
        self.shot("audit")

        self.open("/users")
        self.assert_page_sane("Users")
        self.assertIn([USER, "admin", "-", "active"], [row[:4] for row in self.table_rows("#users")])
        self.assertNotIn(PASSWORD, self.driver.page_source)
        self.shot("users")

        # The security headers on a signed-in page, outside the browser.
        status, headers, body = self.fetch("/", cookie=cookie)
        self.assertEqual(status, 200)
        csp = headers["Content-Security-Policy"]
        self.assertIn("default-src 'self'", csp)
        self.assertIn("script-src 'none'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertEqual(headers["X-Frame-Options"], "DENY")
        self.assertEqual(headers["Cache-Control"], "no-store")
        self.assertNotIn("<script", body.lower())

    # --- 5: signing out ends the session -----------------------------------------------------------

    def test_5_sign_out(self):
        cookie = "airlock_session=" + self.session_cookie()["value"]
        self.open("/")
        self.click(self.one("form#sign-out button"))
        self.assertEqual(self.path(), "/login")
        self.open("/usage")
        self.assertEqual(self.path(), "/login")
        status, headers, _ = self.fetch("/", cookie=cookie)
        self.assertEqual((status, headers["Location"]), (303, "/login"), "the old session cookie still works")


    # --- 6: layout -------------------------------------------------------------------------------

    def test_6_no_page_is_wider_than_the_window(self):
        # Every page photographed fits the 1280-pixel window: nothing pushes it into scrolling
        # sideways (a long unbroken value in a table cell would).
        self.assertTrue(self.widths, "no page was photographed")
        wide = {name: width for name, width in self.widths.items() if width > 1280}
        self.assertEqual(wide, {}, "pages wider than the 1280-pixel window (CSS px)")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


if __name__ == "__main__":
    unittest.main()
