package org.gradsurgery.layers;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Environment;
import org.nd4j.linalg.factory.Nd4j;

/**
 * JUnit 5 extension for tests on tiny arrays: ND4J defaults to DOUBLE (gradient checks require it) and libnd4j
 * runs single-threaded, because on a shared 2-core machine thread hand-offs cost 10–50× the arithmetic of a
 * 100-element reduction. Both are restored after the class.
 */
public final class DoublePrecisionTinyArrays implements BeforeAllCallback, AfterAllCallback {

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(
            DoublePrecisionTinyArrays.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        Environment env = Nd4j.getEnvironment();
        ExtensionContext.Store store = context.getStore(NS);
        store.put("dataType", Nd4j.dataType());
        store.put("floatType", Nd4j.defaultFloatingPointType());
        store.put("maxThreads", env.maxThreads());
        store.put("maxMasterThreads", env.maxMasterThreads());
        Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE);
        env.setMaxThreads(1);
        env.setMaxMasterThreads(1);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        ExtensionContext.Store store = context.getStore(NS);
        Nd4j.setDefaultDataTypes(store.get("dataType", DataType.class), store.get("floatType", DataType.class));
        Environment env = Nd4j.getEnvironment();
        env.setMaxThreads(store.get("maxThreads", Integer.class));
        env.setMaxMasterThreads(store.get("maxMasterThreads", Integer.class));
    }
}
