package org.gradsurgery.examples.notebook.kernel;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.dflib.jjava.jupyter.channels.ShellReplyEnvironment;
import org.dflib.jjava.jupyter.kernel.BaseKernel;
import org.dflib.jjava.jupyter.kernel.HelpLink;
import org.dflib.jjava.jupyter.kernel.JupyterIO;
import org.dflib.jjava.jupyter.kernel.LanguageInfo;
import org.dflib.jjava.jupyter.kernel.ReplacementOptions;
import org.dflib.jjava.jupyter.kernel.comm.CommManager;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.util.StringStyler;
import org.dflib.jjava.jupyter.messages.Header;
import org.dflib.jjava.jupyter.messages.ContentType;
import org.dflib.jjava.jupyter.messages.Message;
import org.dflib.jjava.jupyter.messages.MessageType;
import org.dflib.jjava.jupyter.messages.publish.PublishDisplayData;
import org.dflib.jjava.jupyter.messages.publish.PublishError;
import org.dflib.jjava.jupyter.messages.publish.PublishExecuteInput;
import org.dflib.jjava.jupyter.messages.publish.PublishExecuteResult;
import org.dflib.jjava.jupyter.messages.publish.PublishStream;
import org.dflib.jjava.jupyter.messages.reply.ErrorReply;
import org.dflib.jjava.jupyter.messages.reply.ExecuteReply;
import org.dflib.jjava.jupyter.messages.reply.KernelInfoReply;
import org.dflib.jjava.jupyter.messages.request.HistoryRequest;
import org.dflib.jjava.jupyter.kernel.history.HistoryEntry;
import org.dflib.jjava.jupyter.kernel.history.HistoryManager;
import org.dflib.jjava.jupyter.messages.request.ExecuteRequest;
import org.dflib.jjava.jupyter.messages.request.KernelInfoRequest;
import org.gradsurgery.examples.notebook.MavenResolver;
import org.gradsurgery.examples.notebook.NotebookSession;
import org.gradsurgery.examples.notebook.ProjectClasspath;

/**
 * A Jupyter kernel for Java on JJava's kernel base library ({@code org.dflib.jjava:jjava-jupyter}: the ZeroMQ
 * channels, message types and reply plumbing), evaluating cells with this project's {@link NotebookSession} (the same
 * JShell core and magics as {@code gradsurgery notebook run}).
 *
 * <table>
 *   <caption>messages</caption>
 *   <tr><th>request</th><th>reply</th></tr>
 *   <tr><td>execute</td><td>the cell runs on one worker thread (ND4J's workspaces are per thread, so every cell uses
 *       the same one); {@code stream} output as it prints, {@code display_data} from {@code Display.show},
 *       {@code execute_result} for the last expression, {@code error} with the exception's real class, its message
 *       and the stack of the user's code</td></tr>
 *   <tr><td>interrupt (control channel; {@code interrupt_mode: message})</td><td>{@link NotebookSession#interrupt}:
 *       the cell ends with an {@code Interrupted} error, the kernel lives on</td></tr>
 *   <tr><td>complete, inspect, is_complete</td><td>JShell's source analysis</td></tr>
 *   <tr><td>history</td><td>tail, range and search over this kernel process's cells ({@link KernelHistory})</td></tr>
 *   <tr><td>kernel_info</td><td>as jjava-jupyter 1.0-a6 builds it plus the {@code "status": "ok"} it leaves out
 *       (the protocol requires it)</td></tr>
 *   <tr><td>shutdown (restart too: Jupyter starts a new process)</td><td>the running cell is interrupted, the
 *       session closed</td></tr>
 * </table>
 * Not supported: stdin ({@code input_request}), pager payloads, {@code clear_output}, comms beyond jjava's defaults.
 */
public final class JavaKernel extends BaseKernel {
    /** The implementation name in {@code kernel_info_reply}. */
    public static final String IMPLEMENTATION = "gradsurgery-java";
    /** This kernel's version. */
    public static final String VERSION = "0.1.0";

    private final Future<NotebookSession> session;
    private final KernelHistory history;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "gradsurgery-cell");
        t.setDaemon(true);
        return t;
    });

    /**
     * @param baseDir relative paths in magics are against it (the kernel's working directory: Jupyter starts a
     *     kernel in the notebook's folder)
     */
    public JavaKernel(ProjectClasspath classpath, Path baseDir) {
        this(classpath, baseDir, new KernelHistory());
    }

    private JavaKernel(ProjectClasspath classpath, Path baseDir, KernelHistory history) {
        super(IMPLEMENTATION, VERSION,
                new LanguageInfo("java", System.getProperty("java.specification.version"), "text/x-java-source",
                        ".jshell", "java", "text/x-java", null),
                List.of(new HelpLink("Java API", "https://docs.oracle.com/en/java/javase/17/docs/api/")),
                history, new JupyterIO(java.nio.charset.StandardCharsets.UTF_8), new CommManager(), new Renderer(),
                null, null, false, new StringStyler.Builder().build());
        this.history = history;
        // JShell's start takes seconds on a busy machine: make it the worker's first job, so the kernel answers
        // kernel_info at once (clients give up after a startup timeout) and the first cell queues behind it
        this.session = worker.submit(() -> new NotebookSession(classpath, MavenResolver.defaults(classpath), baseDir));
    }

    /** The session, once started (an error starting it is our bug: it surfaces with its stack). */
    private NotebookSession session() {
        try {
            return session.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while JShell starts", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("JShell did not start: " + e.getCause(), e.getCause());
        }
    }

    @Override
    protected synchronized void handleExecuteRequest(ShellReplyEnvironment env, Message<ExecuteRequest> message) {
        commManager.setMessageContext(message);
        ExecuteRequest request = message.getContent();
        boolean silent = request.isSilent();
        int count = silent ? executionCount.get() : executionCount.getAndIncrement();
        env.setBusyDeferIdle();
        if (!silent) {
            env.publish(new PublishExecuteInput(request.getCode(), count));
        }
        NotebookSession.Output out = new NotebookSession.Output() {
            @Override
            public void stream(String name, String text) {
                if (!silent) {
                    env.publish(new PublishStream(name.equals("stderr") ? PublishStream.StreamType.ERR
                            : PublishStream.StreamType.OUT, text));
                }
            }

            @Override
            public void display(Map<String, String> bundle) {
                if (!silent) {
                    env.publish(new PublishDisplayData(displayData(bundle)));
                }
            }
        };
        Future<Map<String, String>> cell = worker.submit(() -> session().execute(request.getCode(), out));
        String result = null;
        try {
            Map<String, String> value = waitFor(cell);
            if (value != null && !silent) {
                env.publish(new PublishExecuteResult(count, displayData(value)));
                result = value.get("text/plain");
            }
            env.defer().reply(new ExecuteReply(count, Collections.emptyMap()));
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            String ename;
            String evalue;
            List<String> traceback;
            if (cause instanceof NotebookSession.CellFailure f) {
                ename = f.ename();
                evalue = f.evalue();
                traceback = f.traceback();
            } else {   // not the notebook's mistake: our bug, with the whole stack
                ename = cause.getClass().getName();
                evalue = String.valueOf(cause.getMessage());
                StringWriter sw = new StringWriter();
                cause.printStackTrace(new PrintWriter(sw));
                traceback = sw.toString().lines().toList();
            }
            env.publish(new PublishError(ename, evalue, traceback));
            ErrorReply reply = new ErrorReply(ename, evalue, traceback);
            reply.setExecutionCount(count);
            env.defer().replyError(ExecuteReply.MESSAGE_TYPE.error(), reply);
            result = ename + ": " + evalue;
        } finally {
            if (request.shouldStoreHistory() && !silent) {
                history.add(count, request.getCode(), result == null ? "" : result);
            }
        }
    }

    /** The cell's result (an interrupt reaches the cell through the control channel, not this thread). */
    private static Map<String, String> waitFor(Future<Map<String, String>> cell) throws ExecutionException {
        try {
            return cell.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ExecutionException(new IllegalStateException("the kernel's shell thread was interrupted"));
        }
    }

    private static DisplayData displayData(Map<String, String> bundle) {
        DisplayData d = new DisplayData();
        bundle.forEach(d::putData);
        return d;
    }

    @Override
    protected void handleKernelInfoRequest(ShellReplyEnvironment env, Message<KernelInfoRequest> message) {
        env.setBusyDeferIdle();
        env.reply(new KernelInfoReplyWithStatus(Header.PROTOCOL_VERISON, name, version, getLanguageInfo(),
                getBanner(), getHelpLinks()));
    }

    /**
     * History from {@link KernelHistory}, as jjava-jupyter's handler asks it, in a reply that carries the
     * {@code status} field jjava-jupyter 1.0-a6 leaves out.
     */
    @Override
    protected void handleHistoryRequest(ShellReplyEnvironment env, Message<HistoryRequest> message) {
        HistoryRequest request = message.getContent();
        env.setBusyDeferIdle();
        Set<HistoryManager.ResultFlag> flags = EnumSet.noneOf(HistoryManager.ResultFlag.class);
        if (request.includeOutput()) {
            flags.add(HistoryManager.ResultFlag.INCLUDE_OUTPUT);
        }
        List<HistoryEntry> entries = switch (request.getAccessType()) {
            case TAIL -> history.lookupTail(((HistoryRequest.Tail) request).getMaxReturnLength(), flags);
            case RANGE -> {
                HistoryRequest.Range r = (HistoryRequest.Range) request;
                yield history.lookupRange(r.getSessionIndex(), r.getStart(), r.getStop(), flags);
            }
            case SEARCH -> {
                HistoryRequest.Search r = (HistoryRequest.Search) request;
                if (r.filterUnique()) {
                    flags.add(HistoryManager.ResultFlag.UNIQUE);
                }
                yield history.search(r.getPattern(), r.getMaxReturnLength(), flags);
            }
        };
        env.reply(new HistoryReplyWithStatus(entries));
    }

    /**
     * A {@code history_reply}: jjava-jupyter 1.0-a6's {@code HistoryReply} has no {@code status} and its
     * serialiser writes entries as objects (the tuple adapter is registered only for reading), so this writes the
     * protocol's {@code [session, line, input]} or {@code [session, line, [input, output]]} tuples itself.
     */
    static final class HistoryReplyWithStatus implements ContentType<HistoryReplyWithStatus> {
        @SuppressWarnings("unused")   // read by gson when the reply is serialised
        private final String status = "ok";
        private final List<List<Object>> history;

        HistoryReplyWithStatus(List<HistoryEntry> entries) {
            history = entries.stream().map(e -> List.<Object>of(e.getSession(), e.getCellNumber(),
                    e.hasOutput() ? List.of(e.getInput(), e.getOutput()) : e.getInput())).toList();
        }

        @Override
        @SuppressWarnings({"unchecked", "rawtypes"})
        public MessageType<HistoryReplyWithStatus> getType() {
            return (MessageType) MessageType.HISTORY_REPLY;
        }
    }

    /** jjava-jupyter 1.0-a6's reply with the {@code status} field the messaging protocol requires. */
    static final class KernelInfoReplyWithStatus extends KernelInfoReply {
        @SuppressWarnings("unused")   // read by gson when the reply is serialised
        private final String status = "ok";

        KernelInfoReplyWithStatus(String protocolVersion, String implementation, String implementationVersion,
                                  LanguageInfo languageInfo, String banner, List<HelpLink> helpLinks) {
            super(protocolVersion, implementation, implementationVersion, languageInfo, banner, helpLinks);
        }
    }

    /** {@link BaseKernel#eval}'s hook (not used by this kernel's execute handler): runs a cell, printing its output. */
    @Override
    public Object evalRaw(String source) {
        Map<String, String> value = session().execute(source, new NotebookSession.Output() {
            @Override
            public void stream(String name, String text) {
                (name.equals("stderr") ? System.err : System.out).print(text);
            }

            @Override
            public void display(Map<String, String> bundle) {
                System.out.println(bundle.get("text/plain"));
            }
        });
        return value == null ? null : displayData(value);
    }

    @Override
    public DisplayData inspect(String code, int at, boolean extraDetail) {
        return session().inspect(code, at).map(DisplayData::new).orElse(null);
    }

    @Override
    public ReplacementOptions complete(String code, int at) {
        NotebookSession.Completion c = session().complete(code, at);
        return new ReplacementOptions(new ArrayList<>(c.matches()), c.start(), c.end());
    }

    @Override
    public String isComplete(String code) {
        NotebookSession.Completeness c = session().isComplete(code);
        return switch (c.status()) {
            case "complete" -> IS_COMPLETE_YES;
            case "invalid" -> IS_COMPLETE_BAD;
            default -> c.indent();
        };
    }

    @Override
    public void interrupt() {
        if (session.isDone()) {
            session().interrupt();
        }
    }

    @Override
    public void onShutdown(boolean isRestarting) {
        interrupt();
        worker.shutdownNow();
        if (session.isDone()) {
            session().close();
        }
        super.onShutdown(isRestarting);
    }
}
