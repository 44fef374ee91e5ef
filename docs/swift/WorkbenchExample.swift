// WorkbenchExample.swift: the workbench's exported Core ML models used from a Mac app.
//
// Audio file -> mono float32 at the model's rate -> windows -> MLModel.prediction -> embedding
// (cosine similarity between tracks) or DJ section label. Every audio-in model the workbench
// exports (`workbench export`, workbench.export.audio_in) has ONE input, "samples", shaped
// (batch, windowSamples): mono float32 at full scale +-1.0 (what AVAudioFile reads; no
// normalisation), at the rate in the model's metadata ("com.workbench.sample_rate"). The
// spectrogram is computed inside the model; a whole-track model ("com.workbench.whole_track": the
// feature frontend) takes the whole track, (1, n_samples) of 1 s to 20 min, one row out per window.
// tests/test_swift_example.py and test_export_features_audio.py check the names and shapes below.
//
// Ranking like `workbench similar`: where the run's search blends the head with its backbone (backbone
// share w > 0, "com.workbench.search_blend"), the embedding model's output is "embedding_blend", the
// unit vector [sqrt(w) * unit(z-scored backbone), sqrt(1 - w) * head]; its plain cosine IS search's
// window score w * cos(backbone) + (1 - w) * cos(head), so the app adds nothing. Search compares two
// tracks by their window sets (`vibe` below). Search's windows are the means of the backbone's frames
// over the run's window (8 s, every 2 s) before the head. A whole-track embedding model exported with
// search_windows=True ("com.workbench.search_windows": JSON window_s, hop_s) pools them inside: its rows
// ARE search's windows (same output name, one row per window), so `vibe` over them is search's score.
// A model with a head over each frame (its rows) ranks close to search, not exactly like it (or, for the
// vector-in embedding model, exactly when the app feeds it the mean of the frames of search's window).
//
// Build: add the .mlpackage files to an Xcode target (Xcode compiles them to .mlmodelc), or
// compile by hand: `xcrun coremlcompiler compile embedding.mlpackage .` and load the .mlmodelc.

import Accelerate
import AVFoundation
import CoreML

/// Names of the inputs, outputs and metadata keys of the exported models.
enum Workbench {
    static let inputName = "samples"
    static let embeddingOutput = "embedding_256"  // model type "embedding" of a head over a backbone, unit length
    static let blendOutput = "embedding_blend"  // model type "embedding" carrying search's blend: cosine = search's score
    static let searchBlendKey = "com.workbench.search_blend"  // JSON: weight, dim, backbone_dim, head_dim
    static let vectorInputName = "embedding"  // vector-in models (head, a dj_section over window features): (1, dim)
    static let trackNormKey = "com.workbench.track_norm"  // JSON: raw_columns; z-score the others per track
    static let backboneOutput = "embedding"  // the backbone's own embedding; also the embedding model of a CNN run
    static let labelOutput = "label"  // model type "dj_section": the top label (String)
    static let probabilitiesOutput = "label_probs"  // model type "dj_section": [label: probability]
    static let sampleRateKey = "com.workbench.sample_rate"
    static let windowSamplesKey = "com.workbench.window_samples"
    static let hopKey = "com.workbench.hop_s"
    // the whole-track dj_section model (a window-feature classifier, the demo's): input "samples" (1, n), any n
    static let labelIndexOutput = "label_index"  // (n_windows,) int32: each window's top label, an index into labels
    static let timesOutput = "times_s"  // (n_windows,) window centres in seconds
    static let labelsKey = "com.workbench.labels"  // JSON array: the label of each label_probs column
    static let wholeTrackKey = "com.workbench.whole_track"  // "true": (1, n_samples) in, one row per window out
    static let searchWindowsKey = "com.workbench.search_windows"  // JSON: rows are search's windows (window_s, hop_s)
}

/// The defaults of the trainable CNN backbone (workbench.models.cnn): 3-s windows at 22,050 Hz,
/// one every 0.5 s. Read the model's metadata instead where you can (AudioContract does).
enum CNNDefaults {
    static let sampleRate = 22050.0
    static let windowSamples = 66150
    static let hopSeconds = 0.5
    static let embeddingDimensions = 128  // the CNN's own embedding; a head over it gives 256
}

enum ExampleError: Error {
    case notAnAudioModel(String)
    case audio(String)
}

/// What one exported model expects, read from the model itself.
struct AudioContract {
    let sampleRate: Double
    let windowSamples: Int
    let hopSeconds: Double
    let batch: Int
    let wholeTrack: Bool
    let searchWindows: Bool  // the rows are search's 8-s windows (the frames pooled inside), not frames

    init(model: MLModel) throws {
        let meta = model.modelDescription.metadata[.creatorDefinedKey] as? [String: String] ?? [:]
        guard let rate = meta[Workbench.sampleRateKey].flatMap(Double.init),
              let window = meta[Workbench.windowSamplesKey].flatMap(Int.init),
              let input = model.modelDescription.inputDescriptionsByName[Workbench.inputName],
              let shape = input.multiArrayConstraint?.shape, shape.count == 2
        else { throw ExampleError.notAnAudioModel("no \(Workbench.inputName) input or sample rate metadata") }
        sampleRate = rate
        windowSamples = window
        hopSeconds = meta[Workbench.hopKey].flatMap(Double.init) ?? CNNDefaults.hopSeconds
        batch = shape[0].intValue
        wholeTrack = meta[Workbench.wholeTrackKey] == "true"
        searchWindows = meta[Workbench.searchWindowsKey] != nil
        guard wholeTrack || shape[1].intValue == window else {
            throw ExampleError.notAnAudioModel("input shape \(shape) does not match \(window) samples")
        }
    }
}

/// Decode a file, mix it to mono (the mean of the channels) and resample it to `sampleRate`.
func loadMono(url: URL, sampleRate: Double) throws -> [Float] {
    let file = try AVAudioFile(forReading: url)
    let format = file.processingFormat  // float32, deinterleaved
    guard let buffer = AVAudioPCMBuffer(pcmFormat: format, frameCapacity: AVAudioFrameCount(file.length)) else {
        throw ExampleError.audio("cannot allocate \(file.length) frames")
    }
    try file.read(into: buffer)
    let n = Int(buffer.frameLength), channels = Int(format.channelCount)
    var mono = [Float](repeating: 0, count: n)
    for c in 0..<channels {
        let samples = UnsafeBufferPointer(start: buffer.floatChannelData![c], count: n)
        mono = vDSP.add(mono, vDSP.multiply(1 / Float(channels), samples))
    }
    if format.sampleRate == sampleRate { return mono }
    let monoFormat = AVAudioFormat(standardFormatWithSampleRate: format.sampleRate, channels: 1)!
    let outFormat = AVAudioFormat(standardFormatWithSampleRate: sampleRate, channels: 1)!
    let source = AVAudioPCMBuffer(pcmFormat: monoFormat, frameCapacity: AVAudioFrameCount(n))!
    source.frameLength = AVAudioFrameCount(n)
    mono.withUnsafeBufferPointer { source.floatChannelData![0].update(from: $0.baseAddress!, count: n) }
    let capacity = AVAudioFrameCount(Double(n) * sampleRate / format.sampleRate) + 4096
    let output = AVAudioPCMBuffer(pcmFormat: outFormat, frameCapacity: capacity)!
    let converter = AVAudioConverter(from: monoFormat, to: outFormat)!
    var fed = false
    var error: NSError?
    _ = converter.convert(to: output, error: &error) { _, status in
        if fed { status.pointee = .endOfStream; return nil }
        fed = true
        status.pointee = .haveData
        return source
    }
    if let error { throw error }
    return Array(UnsafeBufferPointer(start: output.floatChannelData![0], count: Int(output.frameLength)))
}

/// Windows of `contract.windowSamples` every `contract.hopSeconds` (a short clip is zero-padded to one).
func windows(of samples: [Float], contract: AudioContract) -> [[Float]] {
    var y = samples
    if y.count < contract.windowSamples { y += [Float](repeating: 0, count: contract.windowSamples - y.count) }
    let hop = max(1, Int((contract.hopSeconds * contract.sampleRate).rounded()))
    return stride(from: 0, through: y.count - contract.windowSamples, by: hop).map {
        Array(y[$0..<($0 + contract.windowSamples)])
    }
}

/// Run the model on every window, `contract.batch` windows per prediction (the last batch padded with silence).
func predictions(model: MLModel, contract: AudioContract, windows: [[Float]]) throws -> [MLFeatureProvider] {
    var results: [MLFeatureProvider] = []
    for start in stride(from: 0, to: windows.count, by: contract.batch) {
        let x = try MLMultiArray(shape: [NSNumber(value: contract.batch), NSNumber(value: contract.windowSamples)],
                                 dataType: .float32)
        let pointer = x.dataPointer.bindMemory(to: Float.self, capacity: x.count)
        pointer.update(repeating: 0, count: x.count)
        for (row, window) in windows[start..<min(start + contract.batch, windows.count)].enumerated() {
            window.withUnsafeBufferPointer { (pointer + row * contract.windowSamples).update(from: $0.baseAddress!, count: window.count) }
        }
        let input = try MLDictionaryFeatureProvider(dictionary: [Workbench.inputName: MLFeatureValue(multiArray: x)])
        results.append(try model.prediction(from: input))
    }
    return results
}

/// A whole-track model's one prediction: the track as (1, n_samples) (a clip under 1 s padded with silence).
func trackPrediction(model: MLModel, samples: [Float], sampleRate: Double) throws -> MLFeatureProvider {
    var y = samples
    if y.count < Int(sampleRate) { y += [Float](repeating: 0, count: Int(sampleRate) - y.count) }
    let x = try MLMultiArray(shape: [1, NSNumber(value: y.count)], dataType: .float32)
    y.withUnsafeBufferPointer { x.dataPointer.bindMemory(to: Float.self, capacity: y.count).update(from: $0.baseAddress!, count: y.count) }
    return try model.prediction(from: MLDictionaryFeatureProvider(dictionary: [Workbench.inputName: MLFeatureValue(multiArray: x)]))
}

/// One embedding per window (rows of the embedding output), trimmed to the real windows.
func embeddings(model: MLModel, url: URL) throws -> [[Float]] {
    let contract = try AudioContract(model: model)
    let mono = try loadMono(url: url, sampleRate: contract.sampleRate), whole = contract.wholeTrack
    let w: [[Float]] = whole ? [] : windows(of: mono, contract: contract)
    let outputs = try whole ? [trackPrediction(model: model, samples: mono, sampleRate: contract.sampleRate)]
        : predictions(model: model, contract: contract, windows: w)
    var rows: [[Float]] = []
    for out in outputs {
        // search's blend inside says "embedding_blend"; a head over a backbone "embedding_256"; a CNN trained end
        // to end (its own embedding model) "embedding"
        guard let e = (out.featureValue(for: Workbench.blendOutput) ?? out.featureValue(for: Workbench.embeddingOutput)
            ?? out.featureValue(for: Workbench.backboneOutput))?.multiArrayValue else { continue }
        let dim = e.shape[1].intValue
        let p = e.dataPointer.bindMemory(to: Float.self, capacity: e.count)  // fp32 output
        for r in 0..<e.shape[0].intValue { rows.append(Array(UnsafeBufferPointer(start: p + r * dim, count: dim))) }
    }
    return whole ? rows : Array(rows.prefix(w.count))
}

/// The mean of a track's window embeddings, scaled to unit length: one vector per track.
func trackEmbedding(_ rows: [[Float]]) -> [Float] {
    var mean = [Float](repeating: 0, count: rows.first?.count ?? 0)
    for r in rows { mean = vDSP.add(mean, r) }
    let norm = sqrt(vDSP.sumOfSquares(mean))
    return norm > 0 ? vDSP.divide(mean, norm) : mean
}

/// Cosine similarity of two embeddings (the dot product of unit vectors). Of two "embedding_blend" rows it is
/// search's blended window score.
func cosine(_ a: [Float], _ b: [Float]) -> Float {
    let denominator = sqrt(vDSP.sumOfSquares(a) * vDSP.sumOfSquares(b))
    return denominator > 0 ? vDSP.dot(a, b) / denominator : 0
}

/// How well the windows of `c` cover those of `q` (workbench.similarity.sets_search.raw_vibe): each window of
/// `q` takes its most similar window of `c` (cosine), averaged over `q`'s windows.
func cover(_ q: [[Float]], _ c: [[Float]]) -> Float {
    guard !q.isEmpty, !c.isEmpty else { return 0 }
    var total: Float = 0
    for a in q { total += c.map { cosine(a, $0) }.max() ?? 0 }
    return total / Float(q.count)
}

/// Search's raw vibe of two library tracks: the cover both ways, averaged (an excerpt as the query uses
/// `cover(excerpt, track)` alone). Search then calibrates it against a typical pair of the library's tracks
/// ((raw - baseline) / (1 - baseline), clipped to [0, 1]).
func vibe(_ a: [[Float]], _ b: [[Float]]) -> Float {
    (cover(a, b) + cover(b, a)) / 2
}

/// The columns a vector-in section model over window features (the "bars" layouts: downbeats computed by
/// the app) leaves raw; every other column is z-scored within the track ("com.workbench.track_norm").
func rawColumns(model: MLModel) -> Set<Int>? {
    let meta = model.modelDescription.metadata[.creatorDefinedKey] as? [String: String] ?? [:]
    guard let json = meta[Workbench.trackNormKey]?.data(using: .utf8),
          let norm = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
          let raw = norm["raw_columns"] as? [Int] else { return nil }
    return Set(raw)
}

/// Each column z-scored over the track's windows, as the workbench's `track_norm` does before the classifier:
/// (x - mean) / max(std, 1e-6) with the population std (divide by n), except the raw columns (position, ends).
func zScoredWithinTrack(_ rows: [[Float]], raw: Set<Int>) -> [[Float]] {
    guard let dim = rows.first?.count else { return rows }
    var out = rows
    let n = Float(rows.count)
    for j in 0..<dim where !raw.contains(j) {
        let column = rows.map { $0[j] }
        let mean = column.reduce(0, +) / n
        let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        let std = max(variance.squareRoot(), 1e-6)
        for i in 0..<rows.count { out[i][j] = (rows[i][j] - mean) / std }
    }
    return out
}

/// A vector-in section model over a whole track's window features (one row per window, computed by the app):
/// z-scored within the track when the model says so, then one prediction per window.
func vectorSections(model: MLModel, features: [[Float]]) throws -> [(label: String, probability: Double)] {
    let rows = rawColumns(model: model).map { zScoredWithinTrack(features, raw: $0) } ?? features
    return try rows.map { row in
        let x = try MLMultiArray(shape: [1, NSNumber(value: row.count)], dataType: .float32)
        row.withUnsafeBufferPointer { x.dataPointer.bindMemory(to: Float.self, capacity: row.count).update(from: $0.baseAddress!, count: row.count) }
        let input = try MLDictionaryFeatureProvider(dictionary: [Workbench.vectorInputName: MLFeatureValue(multiArray: x)])
        let out = try model.prediction(from: input)
        let label = out.featureValue(for: Workbench.labelOutput)?.stringValue ?? "?"
        let probs = out.featureValue(for: Workbench.probabilitiesOutput)?.dictionaryValue ?? [:]
        return (label, probs[label]?.doubleValue ?? 0)
    }
}

/// The DJ section label and its probability for every window of a file.
func sections(model: MLModel, url: URL) throws -> [(startSeconds: Double, label: String, probability: Double)] {
    let contract = try AudioContract(model: model)
    let w = windows(of: try loadMono(url: url, sampleRate: contract.sampleRate), contract: contract)
    return try predictions(model: model, contract: contract, windows: w).enumerated().map { i, out in
        let label = out.featureValue(for: Workbench.labelOutput)?.stringValue ?? "?"
        let probs = out.featureValue(for: Workbench.probabilitiesOutput)?.dictionaryValue ?? [:]
        return (Double(i) * contract.hopSeconds, label, probs[label]?.doubleValue ?? 0)
    }
}

/// The whole-track section model: the whole file in one prediction, every window's label back
/// (its grammar and smoothing, workbench.train.sections.grammar, are left to the app).
func trackSections(model: MLModel, url: URL) throws -> [(centreSeconds: Double, label: String, probability: Double)] {
    let meta = model.modelDescription.metadata[.creatorDefinedKey] as? [String: String] ?? [:]
    guard let rate = meta[Workbench.sampleRateKey].flatMap(Double.init),
          let json = meta[Workbench.labelsKey]?.data(using: .utf8),
          let labels = try JSONSerialization.jsonObject(with: json) as? [String]
    else { throw ExampleError.notAnAudioModel("no sample rate or labels metadata") }
    let y = try loadMono(url: url, sampleRate: rate)
    let x = try MLMultiArray(shape: [1, NSNumber(value: y.count)], dataType: .float32)
    y.withUnsafeBufferPointer {
        x.dataPointer.bindMemory(to: Float.self, capacity: y.count).update(from: $0.baseAddress!, count: y.count)
    }
    let input = try MLDictionaryFeatureProvider(dictionary: [Workbench.inputName: MLFeatureValue(multiArray: x)])
    let out = try model.prediction(from: input)
    guard let probs = out.featureValue(for: Workbench.probabilitiesOutput)?.multiArrayValue,
          let index = out.featureValue(for: Workbench.labelIndexOutput)?.multiArrayValue,
          let times = out.featureValue(for: Workbench.timesOutput)?.multiArrayValue
    else { throw ExampleError.notAnAudioModel("not a whole-track section model") }
    return (0..<index.count).map { i in
        let k = index[i].intValue
        return (times[i].doubleValue, labels[k], probs[[NSNumber(value: i), NSNumber(value: k)]].doubleValue)
    }
}

@main
struct WorkbenchExample {
    // usage: WorkbenchExample embedding.mlmodelc dj_section.mlmodelc a.flac b.flac
    static func main() throws {
        let args = CommandLine.arguments
        guard args.count == 5 else { print("usage: WorkbenchExample EMBEDDING DJ_SECTION A B"); return }
        let config = MLModelConfiguration()
        config.computeUnits = .all  // the Neural Engine where it can
        let embedder = try MLModel(contentsOf: URL(fileURLWithPath: args[1]), configuration: config)
        let sectioner = try MLModel(contentsOf: URL(fileURLWithPath: args[2]), configuration: config)
        let rowsA = try embeddings(model: embedder, url: URL(fileURLWithPath: args[3]))
        let rowsB = try embeddings(model: embedder, url: URL(fileURLWithPath: args[4]))
        let exact = try AudioContract(model: embedder).searchWindows  // rows = search's windows: its own score
        print("vibe (search's window-set score, raw\(exact ? "" : "; per-frame rows: close to it")):", vibe(rowsA, rowsB))
        print("cosine of the mean vectors:", cosine(trackEmbedding(rowsA), trackEmbedding(rowsB)))
        if sectioner.modelDescription.outputDescriptionsByName[Workbench.timesOutput] != nil {  // whole-track model
            for s in try trackSections(model: sectioner, url: URL(fileURLWithPath: args[3])) {
                print(String(format: "%7.1f s  %@  %.2f", s.centreSeconds, s.label, s.probability))
            }
            return
        }
        for s in try sections(model: sectioner, url: URL(fileURLWithPath: args[3])) {
            print(String(format: "%7.1f s  %@  %.2f", s.startSeconds, s.label, s.probability))
        }
    }
}
