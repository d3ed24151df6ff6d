/**
 * Layers and a vertex that let DL4J 1.0.0-M2.1 train 2D and 3D U-Nets with normalisation, skip concatenation and
 * per-sample region losses. Configurations live here; runtime implementations in
 * {@link org.gradsurgery.layers.impl}.
 *
 * <ul>
 *   <li>{@link org.gradsurgery.layers.SegmentationLossLayer}: output layer for rank 4 (NCHW/NHWC) and rank 5 (NCDHW);
 *       gives {@link org.gradsurgery.loss.SpatialLossFunction}s whole tensors (per-example groups) and flattens for
 *       any other loss, with correct scores in every layout.</li>
 *   <li>{@link org.gradsurgery.layers.ChannelConcatVertex}: channel concatenation for rank 2, 4 and 5 with backprop
 *       (DL4J's {@code MergeVertex} cannot backprop rank 5).</li>
 *   <li>{@link org.gradsurgery.layers.InstanceNormalization} (Ulyanov et al. 2016) and
 *       {@link org.gradsurgery.layers.SpatialBatchNormalization} (Ioffe and Szegedy 2015) for rank 4 and 5 (DL4J's
 *       {@code BatchNormalization} fails at run time on rank 5); FLOAT channels-first arrays take fused
 *       single-pass kernels.</li>
 *   <li>{@link org.gradsurgery.layers.NativeConvolution3D}: DL4J's {@code Convolution3D} (same configuration,
 *       parameters, results and libnd4j ops) called per example and per slab of depth planes, so that the scratch
 *       memory oneDNN allocates per call stays bounded at large patches and batches.</li>
 *   <li>{@link org.gradsurgery.layers.NativeConvolution2D}, {@link org.gradsurgery.layers.TransposedConvolution2D} and
 *       {@link org.gradsurgery.layers.TransposedConvolution3D}: DL4J's convolution and transposed convolutions (same
 *       configuration, parameters and results) on libnd4j's ops and GEMMs instead of DL4J M2.1's Java-side im2col
 *       path, which never reaches oneDNN, and its per-call weight permutes; {@link org.gradsurgery.layers.BlockMaxPooling2D}
 *       and {@link org.gradsurgery.layers.BlockMaxPooling3D}: DL4J's 2D and 3D pooling with a plane-by-plane
 *       (volume-by-volume) kernel for non-overlapping max-pooling.</li>
 * </ul>
 *
 * <p>The model package's {@code UNet} builds complete, validated 2D and 3D U-Nets from these blocks (tested and
 * trained in FLOAT by {@code UNetTest} and {@code UNetTrainingSmokeTest}); use it unless you need another topology.
 * By hand, a 3D encoder-decoder level, as nnU-Net builds it (conv → instance norm → LeakyReLU; strided conv down;
 * transposed conv up; concatenation with the skip). Use {@code ConvolutionMode.Same} and
 * {@code Convolution3D.DataFormat.NCDHW} throughout:
 * <pre>{@code
 * GraphBuilder g = new NeuralNetConfiguration.Builder().updater(new Adam(1e-3)).weightInit(WeightInit.RELU)
 *         .graphBuilder().addInputs("image")
 *         .setInputTypes(InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 64, 64, 64, 1));
 * g.addLayer("enc1_conv", new NativeConvolution3D.Builder(3, 3, 3).nOut(16).convolutionMode(ConvolutionMode.Same)
 *         .dataFormat(Convolution3D.DataFormat.NCDHW).activation(Activation.IDENTITY).build(), "image");
 * g.addLayer("enc1_norm", new InstanceNormalization.Builder()            // channels from the input types
 *         .activation(new ActivationLReLU(0.01)).build(), "enc1_conv"); // or .build() + an ActivationLayer
 * g.addLayer("enc2_conv", new NativeConvolution3D.Builder(3, 3, 3).stride(2, 2, 2).nOut(32)
 *         .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW)
 *         .activation(Activation.IDENTITY).build(), "enc1_norm");
 * g.addLayer("enc2_norm", new InstanceNormalization.Builder().activation(new ActivationLReLU(0.01)).build(),
 *         "enc2_conv");
 * g.addLayer("up1", new Deconvolution3D.Builder().kernelSize(2, 2, 2).stride(2, 2, 2).nOut(16)
 *         .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW)
 *         .activation(Activation.IDENTITY).build(), "enc2_norm");
 * g.addVertex("skip1", new ChannelConcatVertex(), "up1", "enc1_norm");   // NCDHW: axis 1; 16 + 16 channels
 * // ... decoder block on "skip1", then a 1x1x1 Convolution3D "logits" with nOut = classes ...
 * g.addLayer("seg", new SegmentationLossLayer.Builder()
 *         .lossFunction(GradientSurgery.wrap(new LossDice()))          // per-sample Dice, calibrated gradient
 *         .activation(Activation.SOFTMAX).build(), "logits");
 * ComputationGraphConfiguration conf = g.setOutputs("seg").build();
 * }</pre>
 * {@code UNet}'s {@code Wiring} is this pattern (with max-pooling and ReLU). In 2D, use {@link NativeConvolution2D} and
 * {@link TransposedConvolution2D} (DL4J's {@code ConvolutionLayer}/{@code Deconvolution2D} configurations and
 * results, on libnd4j's oneDNN-backed ops: several times faster, see {@code docs/PERFORMANCE.md}) and
 * {@code .dataFormat(CNN2DFormat.NHWC)} on the convolutions when data is channels-last;
 * the norm and loss layers take the format from the input types, the vertex needs
 * {@code new ChannelConcatVertex(CNN2DFormat.NHWC)}. {@code SpatialBatchNormalization.Builder().decay(0.9)} replaces
 * instance norm where batch statistics are wanted (its running estimates update in {@code fit}).
 */
package org.gradsurgery.layers;
