package org.gradsurgery.examples.cli;

import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;

/** The command's picocli output writer as a {@code PrintStream} (what the library's progress display prints to). */
final class Console {
    private Console() {
    }

    static PrintStream stream(CommandLine.Model.CommandSpec spec) {
        PrintWriter w = spec.commandLine().getOut();
        return new PrintStream(new OutputStream() {
            @Override
            public void write(int b) {
                w.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                w.write(new String(b, off, len, StandardCharsets.UTF_8));
            }

            @Override
            public void flush() {
                w.flush();
            }
        }, true, StandardCharsets.UTF_8);
    }
}
