"""Jupyter protocol checks of the gradsurgery Java kernel.

Debian's jupyter_kernel_test (python3-jupyter-kernel-test) drives the kernel through jupyter_client: kernel_info,
execute with stdout/stderr/result/display_data, errors, completion, is_complete, inspect and history. Tests the kernel
does not support (pager payloads, clear_output) are skipped by leaving their samples empty (documented in
docs/NOTEBOOKS.md). KernelBadInputTests adds what the project's issue asks beyond the suite: an interrupted infinite
loop, exceptions with their real class, compile errors, unknown magics, missing jars; after each the kernel still runs.

Run (after `gradsurgery kernel install --prefix DIR`):
    JUPYTER_PATH=DIR/share/jupyter /usr/bin/python3 -m unittest -v test_kernel
The kernel name is $GRADSURGERY_KERNEL (default: java).
"""
import os
import time
import unittest
from queue import Empty

import jupyter_kernel_test

KERNEL = os.environ.get("GRADSURGERY_KERNEL", "java")
# a cold JVM, JShell and the first compile take a few seconds on a loaded machine
jupyter_kernel_test.TIMEOUT = 120
# how long execute_helper waits for each iopub message once the reply has come (the suite waits 0.1 s)
IOPUB_TIMEOUT = 30


class KernelConformanceTests(jupyter_kernel_test.KernelTests):
    kernel_name = KERNEL
    language_name = "java"
    file_extension = ".jshell"

    code_hello_world = 'System.out.println("hello, world");'
    code_stderr = 'System.err.println("oops");'
    completion_samples = [
        {"text": "Math.absE", "matches": {"absExact("}},
        {"text": "int n = 1;\n\"x\".toUpperC", "matches": {"toUpperCase("}},
    ]
    complete_code_samples = ["1 + 1", "int x = 3;", "void f() {\n}", "%maven info.picocli:picocli:4.7.6"]
    incomplete_code_samples = ["void f() {", "for (int i = 0; i < 3; i++) {", "Math.max(1,"]
    invalid_code_samples = ["%nosuchmagic"]
    code_generate_error = 'throw new IllegalStateException("boom");'
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"a" + "b"', "result": "ab"},
        {"code": "java.util.List.of(1, 2)", "result": "[1, 2]"},
    ]
    code_display_data = [
        {"code": "org.gradsurgery.examples.notebook.Display.show(new java.awt.image.BufferedImage(4, 3,"
                 " java.awt.image.BufferedImage.TYPE_INT_RGB));", "mime": "image/png"},
        {"code": "org.gradsurgery.examples.notebook.Display.show(org.gradsurgery.examples.notebook.Display.table("
                 "java.util.List.of(\"a\"), java.util.List.of(java.util.List.of(1.5))));", "mime": "text/html"},
    ]
    code_history_pattern = "6 *"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "Math.max"

    def execute_helper(self, code, timeout=jupyter_kernel_test.TIMEOUT, silent=False, store_history=True,
                       stop_on_error=True):
        """The suite's execute_helper with one change: after the execute_reply it waits up to IOPUB_TIMEOUT for each
        output message and the final idle status instead of 0.1 s. The kernel publishes them on another socket than
        the reply, and on a CI machine at load 20 the idle status came more than 0.1 s after the reply (the test
        then failed with Empty although the kernel was right). The message checks are the suite's."""
        from jupyter_client.utils import run_sync
        from jupyter_kernel_test.msgspec_v5 import validate_message
        msg_id = self.kc.execute(code=code, silent=silent, store_history=store_history,
                                 stop_on_error=stop_on_error)
        reply = self.get_non_kernel_info_reply(timeout=timeout)
        validate_message(reply, "execute_reply", msg_id)
        busy_msg = run_sync(self.kc.iopub_channel.get_msg)(timeout=IOPUB_TIMEOUT)
        validate_message(busy_msg, "status", msg_id)
        self.assertEqual(busy_msg["content"]["execution_state"], "busy")
        output_msgs = []
        while True:
            msg = run_sync(self.kc.iopub_channel.get_msg)(timeout=IOPUB_TIMEOUT)
            validate_message(msg, msg["msg_type"], msg_id)
            if msg["msg_type"] == "status":
                self.assertEqual(msg["content"]["execution_state"], "idle")
                break
            elif msg["msg_type"] == "execute_input":
                self.assertEqual(msg["content"]["code"], code)
                continue
            output_msgs.append(msg)
        return reply, output_msgs

    def test_kernel_info_has_status(self):
        self.flush_channels()
        self.kc.kernel_info()
        reply = self.kc.get_shell_msg(timeout=jupyter_kernel_test.TIMEOUT)
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(reply["content"]["implementation"], "gradsurgery-java")


class KernelBadInputTests(unittest.TestCase):
    """Each bad input is one clear error in the notebook, and the kernel stays alive."""

    @classmethod
    def setUpClass(cls):
        from jupyter_client.manager import start_new_kernel
        cls.km, cls.kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel()

    def run_cell(self, code, timeout=120):
        """Executes code; returns (reply content, list of iopub messages of this request)."""
        msg_id = self.kc.execute(code)
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=timeout)
        outputs = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            outputs.append(msg)
        return reply["content"], outputs

    def assert_alive(self):
        content, outputs = self.run_cell("40 + 2")
        self.assertEqual(content["status"], "ok")
        results = [m for m in outputs if m["msg_type"] == "execute_result"]
        self.assertEqual(results[0]["content"]["data"]["text/plain"], "42")

    def error_of(self, code, timeout=120):
        content, outputs = self.run_cell(code, timeout)
        self.assertEqual(content["status"], "error", content)
        errors = [m["content"] for m in outputs if m["msg_type"] == "error"]
        self.assertEqual(len(errors), 1, outputs)
        return errors[0]

    def assert_interrupted(self, code):
        """Starts code, interrupts the kernel (Kernel > Interrupt) and expects the cell to end as Interrupted."""
        msg_id = self.kc.execute(code)
        time.sleep(3)
        self.km.interrupt_kernel()
        reply = self.kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=60)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "Interrupted")

    def test_runtime_exception_has_its_real_class_and_stack(self):
        self.run_cell('void check(int n) {\n  if (n > 2) throw new IllegalArgumentException("n too big: " + n);\n}')
        err = self.error_of("check(1);\ncheck(3);")
        self.assertEqual(err["ename"], "java.lang.IllegalArgumentException")
        self.assertEqual(err["evalue"], "n too big: 3")
        self.assertTrue(any("at check (" in line for line in err["traceback"]), err["traceback"])
        self.assertLess(len(err["traceback"]), 20, "a short stack: the user's frames, not JShell's")
        self.assert_alive()

    def test_compile_error(self):
        err = self.error_of("int c = undefinedThing + 1;")
        self.assertEqual(err["ename"], "CompilationError")
        self.assertIn("cannot find symbol", err["evalue"])
        self.assert_alive()

    def test_unknown_magic_and_missing_jar(self):
        err = self.error_of("%timeit 1 + 1")
        self.assertEqual(err["ename"], "MagicError")
        self.assertIn("unsupported magic '%timeit 1 + 1'", err["evalue"])
        err = self.error_of("%jars /no/such/dir/x.jar")
        self.assertIn("no such jar /no/such/dir/x.jar", err["evalue"])
        err = self.error_of("%classpath add jar missing.jar")
        self.assertIn("no such jar", err["evalue"])
        self.assert_alive()

    def test_unresolvable_maven_coordinate(self):
        err = self.error_of("%maven com.example.gradsurgery.none:not-here:0.0.1", timeout=300)
        self.assertEqual(err["ename"], "MagicError")
        self.assertIn("Maven coordinate com.example.gradsurgery.none:not-here:0.0.1", err["evalue"])
        self.assert_alive()

    def test_interrupt_stops_an_infinite_loop(self):
        self.run_cell("long spins = 0;")
        self.assert_interrupted("while (true) { spins++; }")
        content, outputs = self.run_cell("spins > 0")
        self.assertEqual(content["status"], "ok")
        self.assertEqual([m for m in outputs if m["msg_type"] == "execute_result"][0]["content"]["data"]
                         ["text/plain"], "true")

    def test_interrupt_stops_a_sleep(self):
        self.assert_interrupted("Thread.sleep(600_000);")
        self.assert_alive()


if __name__ == "__main__":
    unittest.main()
