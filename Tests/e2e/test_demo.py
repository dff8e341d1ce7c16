"""`./scripts/demo` as a user runs it: it comes up, its printed lines work with the official
`openai` SDK, and Ctrl-C (SIGINT to its process group, as a terminal sends it) stops everything
cleanly."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import warnings

import openai

from appliance import free_port, hold_port

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


class DemoTest(unittest.TestCase):
    def test_the_demo_serves_the_sdk_and_stops_cleanly_on_ctrl_c(self):
        warnings.simplefilter("ignore", ResourceWarning)
        data = tempfile.mkdtemp(prefix="airlock-demo-")
        env = dict(os.environ, AIRLOCK_DEMO_PORT=str(free_port()), AIRLOCK_DEMO_DIR=data)
        # A terminal's Ctrl-C reaches a foreground group whose SIGINT is not ignored; a process
        # started in the background inherits "ignored", which bash cannot trap.
        demo = subprocess.Popen([os.path.join(ROOT, "scripts", "demo")], env=env, cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: (signal.signal(signal.SIGINT, signal.SIG_DFL), os.setpgrp()))
        try:
            printed = {}
            deadline = time.time() + 300
            for line in demo.stdout:
                if "=" in line and line.startswith("AIRLOCK_"):
                    name, value = line.strip().split("=", 1)
                    printed[name] = value
                if printed.get("AIRLOCK_READY") == "1" or time.time() > deadline:
                    break
            self.assertEqual(printed.get("AIRLOCK_READY"), "1", printed)
            self.assertTrue(printed["AIRLOCK_BASE_URL"].endswith("/v1"))
            client = openai.OpenAI(base_url=printed["AIRLOCK_BASE_URL"], api_key=printed["AIRLOCK_API_KEY"], max_retries=0,
                                   http_client=openai.DefaultHttpxClient(verify=printed["AIRLOCK_CA_FILE"]))
            completion = client.chat.completions.create(model="demo-chat", max_tokens=4,
                                                        messages=[{"role": "user", "content": "Hello"}])
            self.assertEqual(completion.usage.completion_tokens, 4)
            text = "".join(chunk.choices[0].delta.content or "" for chunk in client.chat.completions.create(
                model="demo-chat", stream=True, max_tokens=4, messages=[{"role": "user", "content": "Hello"}]))
            self.assertEqual(len(text.split()), 4)
            self.assertIn("demo-chat", [model.id for model in client.models.list()])

            os.killpg(demo.pid, signal.SIGINT)
            self.assertEqual(demo.wait(timeout=60), 0)
            with open(os.path.join(data, "airlockd.log")) as f:
                self.assertIn("stopped cleanly", f.read())
            # Nothing of the demo is left running: its group is empty.
            time.sleep(0.5)
            with self.assertRaises(ProcessLookupError):
                os.killpg(demo.pid, 0)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
            shutil.rmtree(data, ignore_errors=True)

    def test_a_demo_whose_port_is_taken_says_which_and_exits_1_leaving_nothing_running(self):
        data = tempfile.mkdtemp(prefix="airlock-demo-")
        self.addCleanup(shutil.rmtree, data, True)
        agent_port = free_port()
        self.addCleanup(hold_port(agent_port).close)
        env = dict(os.environ, AIRLOCK_DEMO_PORT=str(free_port()), AIRLOCK_DEMO_AGENT_PORT=str(agent_port), AIRLOCK_DEMO_DIR=data)
        demo = subprocess.Popen([os.path.join(ROOT, "scripts", "demo")], env=env, cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=os.setpgrp)
        try:
            out, err = demo.communicate(timeout=300)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
        self.assertEqual(demo.returncode, 1, out + err)
        self.assertNotIn("AIRLOCK_READY", out)
        self.assertIn(f"could not listen for node agents ([agents] listen) on 127.0.0.1:{agent_port}: "
                      "the address is already in use", err)
        # Its engines were stopped with it: nothing of the demo's process group is left.
        time.sleep(0.5)
        with self.assertRaises(ProcessLookupError):
            os.killpg(demo.pid, 0)


if __name__ == "__main__":
    unittest.main()
