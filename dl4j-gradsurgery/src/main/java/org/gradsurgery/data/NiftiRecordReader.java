package org.gradsurgery.data;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import org.datavec.api.conf.Configuration;
import org.datavec.api.records.Record;
import org.datavec.api.records.metadata.RecordMetaData;
import org.datavec.api.records.reader.BaseRecordReader;
import org.datavec.api.split.InputSplit;
import org.datavec.api.writable.NDArrayWritable;
import org.datavec.api.writable.Writable;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiImage;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A DataVec {@code RecordReader} over the NIfTI files of an {@link InputSplit} (e.g. {@code new FileSplit(dir,
 * new String[]{"nii", "gz"})}; non-NIfTI locations are skipped). Each record is one {@link NDArrayWritable}:
 * <ul>
 *   <li>{@link Kind#IMAGE}: float32 {@code [1, C, X, Y, Z]} (nibabel {@code get_fdata()} values; C from a 4th
 *       dimension such as MSD modalities, else 1; a 2D file gives {@code [1, C, X, Y]});</li>
 *   <li>{@link Kind#LABELS}: the raw stored integers, {@code [1, 1, X, Y, Z]} (int32, or int64 for 32/64-bit
 *       unsigned and 64-bit files).</li>
 * </ul>
 * Spatial axes are in file order, element [.., i, j, k] = voxel (i, j, k). {@link #nextRecord()} attaches a
 * {@link NiftiRecordMetaData} with the URI, affine, spacing and shape, and {@link #loadFromMetaData} reads a record
 * again from it. Pair images with labels for training with {@link SegmentationDataSetIterator}.
 */
public final class NiftiRecordReader extends BaseRecordReader {
    private static final long serialVersionUID = 1L;

    /** What each record holds. */
    public enum Kind { IMAGE, LABELS }

    private final Kind kind;
    private List<URI> locations = List.of();
    private int cursor;
    private Configuration conf;

    /** A reader of images (float32). */
    public NiftiRecordReader() {
        this(Kind.IMAGE);
    }

    public NiftiRecordReader(Kind kind) {
        this.kind = kind;
    }

    static boolean isNifti(String name) {
        String l = name.toLowerCase(Locale.ROOT);
        return l.endsWith(".nii") || l.endsWith(".nii.gz") || l.endsWith(".hdr") || l.endsWith(".hdr.gz");
    }

    @Override
    public void initialize(InputSplit split) throws IOException, InterruptedException {
        super.initialize(split);
        List<URI> l = new ArrayList<>();
        for (URI u : split.locations()) {
            String path = u.getPath();
            if (path != null && isNifti(path)) {
                l.add(u);
            }
        }
        locations = Collections.unmodifiableList(l);
        cursor = 0;
    }

    @Override
    public void initialize(Configuration conf, InputSplit split) throws IOException, InterruptedException {
        this.conf = conf;
        initialize(split);
    }

    @Override
    public boolean hasNext() {
        return cursor < locations.size();
    }

    @Override
    public List<Writable> next() {
        return nextRecord().getRecord();
    }

    @Override
    public Record nextRecord() {
        if (!hasNext()) {
            throw new NoSuchElementException("no more NIfTI files in the split (" + locations.size() + " read)");
        }
        URI uri = locations.get(cursor++);
        try {
            Record r = read(Path.of(uri), uri);
            invokeListeners(uri);
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + uri + ": " + e.getMessage(), e);
        }
    }

    private Record read(Path file, URI uri) throws IOException {
        INDArray arr;
        double[][] affine;
        double[] spacing;
        long[] shape;
        if (kind == Kind.IMAGE) {
            // the file's own voxel order, as the LABELS kind reads it: the two must pair voxel for voxel
            Sample s = Case.of(Png.name(file), file, null).loadStored();
            INDArray img = s.image();
            long[] withBatch = new long[img.rank() + 1];
            withBatch[0] = 1;
            System.arraycopy(img.shape(), 0, withBatch, 1, img.rank());
            arr = img.reshape('c', withBatch);
            affine = s.affine();
            spacing = s.spacing();
            shape = img.shape();
        } else {
            NiftiImage img = Nifti.read(file);
            INDArray lab = img.labels().dup('c');
            long[] dims = lab.shape();
            long[] withBatch = new long[dims.length + 2];
            withBatch[0] = 1;
            withBatch[1] = 1;
            System.arraycopy(dims, 0, withBatch, 2, dims.length);
            arr = lab.reshape('c', withBatch);
            affine = img.affine();
            spacing = img.spacing();
            shape = dims;
        }
        return new org.datavec.api.records.impl.Record(List.of(new NDArrayWritable(arr)),
                new NiftiRecordMetaData(uri, affine, spacing, shape));
    }

    /** Reads a record from a stream (copied to a temporary file, since NIfTI needs random access). */
    @Override
    public List<Writable> record(URI uri, DataInputStream dataInputStream) throws IOException {
        String name = uri == null || uri.getPath() == null ? "stream.nii" : Path.of(uri.getPath()).getFileName().toString();
        String suffix = name.toLowerCase(Locale.ROOT).endsWith(".gz") ? ".nii.gz" : ".nii";
        Path tmp = Files.createTempFile("niftirecord", suffix);
        try {
            Files.copy(dataInputStream, tmp, StandardCopyOption.REPLACE_EXISTING);
            return read(tmp, uri == null ? tmp.toUri() : uri).getRecord();
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @Override
    public Record loadFromMetaData(RecordMetaData recordMetaData) throws IOException {
        URI uri = recordMetaData.getURI();
        return read(Path.of(uri), uri);
    }

    @Override
    public List<Record> loadFromMetaData(List<RecordMetaData> recordMetaDatas) throws IOException {
        List<Record> out = new ArrayList<>();
        for (RecordMetaData m : recordMetaDatas) {
            out.add(loadFromMetaData(m));
        }
        return out;
    }

    @Override
    public List<String> getLabels() {
        return null;
    }

    @Override
    public void reset() {
        cursor = 0;
        if (inputSplit != null) {
            inputSplit.reset();
        }
    }

    @Override
    public boolean resetSupported() {
        return true;
    }

    @Override
    public void close() {
        // Files are opened and closed per record.
    }

    @Override
    public void setConf(Configuration conf) {
        this.conf = conf;
    }

    @Override
    public Configuration getConf() {
        return conf;
    }

    /** Number of NIfTI files in the split. */
    public int size() {
        return locations.size();
    }
}
