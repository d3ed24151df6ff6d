package org.gradsurgery.examples.notebook.kernel;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.dflib.jjava.jupyter.kernel.history.HistoryEntry;
import org.dflib.jjava.jupyter.kernel.history.HistoryManager;

/**
 * The cells this kernel process ran, for Jupyter's {@code history_request}: one session (numbered {@value #SESSION};
 * a request for session 0 means the current one, as in IPython), kept in memory, so a restarted kernel starts empty.
 * The output of an entry is the text form of the cell's result or error (empty when it showed nothing).
 */
final class KernelHistory implements HistoryManager {
    /** The session number entries carry. */
    static final int SESSION = 1;

    private record Cell(int number, String input, String output) {
    }

    private final List<Cell> cells = new ArrayList<>();

    synchronized void add(int number, String input, String output) {
        cells.add(new Cell(number, input, output));
    }

    @Override
    public synchronized List<HistoryEntry> lookupTail(int length, Set<ResultFlag> flags) {
        return entries(cells.subList(Math.max(0, cells.size() - length), cells.size()), flags);
    }

    @Override
    public synchronized List<HistoryEntry> lookupRange(int session, int start, int stop, Set<ResultFlag> flags) {
        if (session != 0 && session != SESSION) {
            return List.of();
        }
        return entries(cells.stream().filter(c -> c.number() >= start && c.number() < stop).toList(), flags);
    }

    /** Cells matching the glob {@code pattern} (sqlite syntax: {@code *}, {@code ?}, {@code [..]}), the last n. */
    @Override
    public synchronized List<HistoryEntry> search(String pattern, int length, Set<ResultFlag> flags) {
        Pattern p = Pattern.compile(globToRegex(pattern), Pattern.DOTALL);
        List<Cell> found = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        for (int i = cells.size() - 1; i >= 0 && (length <= 0 || found.size() < length); i--) {
            Cell c = cells.get(i);
            if (p.matcher(c.input()).matches() && (!flags.contains(ResultFlag.UNIQUE) || seen.add(c.input()))) {
                found.add(0, c);
            }
        }
        return entries(found, flags);
    }

    private static List<HistoryEntry> entries(List<Cell> cells, Set<ResultFlag> flags) {
        boolean output = flags.contains(ResultFlag.INCLUDE_OUTPUT);
        return cells.stream().map(c -> new HistoryEntry(SESSION, c.number(), c.input(), output ? c.output() : null))
                .toList();
    }

    static String globToRegex(String glob) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char ch = glob.charAt(i);
            switch (ch) {
                case '*' -> sb.append(".*");
                case '?' -> sb.append('.');
                case '[' -> {
                    int end = glob.indexOf(']', i + 1);
                    if (end < 0) {
                        sb.append("\\[");
                    } else {
                        String set = glob.substring(i + 1, end);
                        sb.append('[').append(set.replace("\\", "\\\\")).append(']');   // [^..] as in regex
                        i = end;
                    }
                }
                default -> sb.append(Pattern.quote(String.valueOf(ch)));
            }
        }
        return sb.toString();
    }
}
