import AutoDiff
import Foundation
import Testing

@testable import NN

/// Character-level text data: the vocabulary, the word-list splits, random windows, sampling,
/// and the GPT that trains on them (captured).
@Suite("Text data: vocabulary, word lists, windows, sampling; GPT")
struct TextDataTests {
    /// 200 words of consecutive letters (`cdefg`, `hij`, …): a pattern a model can learn.
    static let words = (0..<200).map { i in
        let letters = Array("abcdefghij")
        return String((0..<(3 + i % 5)).map { letters[(i * 7 + $0) % 10] })
    }

    @Test("the vocabulary is the sorted code points plus the newline; encode and decode round-trip")
    func vocabularyRoundTrip() throws {
        let vocabulary = CharacterVocabulary(text: "café bär")
        #expect(vocabulary.characters == ["\n", " ", "a", "b", "c", "f", "r", "ä", "é"])
        #expect(vocabulary.separatorIndex == 0)
        let text = "bäcker\nfé"
        let encoded = try vocabulary.encode("bär\ncafé")
        #expect(encoded == [3, 7, 6, 0, 4, 2, 5, 8])
        #expect(vocabulary.decode(encoded) == "bär\ncafé")
        #expect(throws: NNError.self) { try vocabulary.encode(text) }
        let restored = try CharacterVocabulary(serialized: vocabulary.serialized)
        #expect(restored == vocabulary)
        #expect(throws: NNError.self) { try CharacterVocabulary(serialized: "ba\n") }
        #expect(throws: NNError.self) { try CharacterVocabulary(serialized: "ab") }
    }

    @Test("a word list splits as the peer splits it: shuffled by the seed, 90 % / 10 %, newline-terminated")
    func splits() throws {
        let corpus = try WordListCorpus(text: Self.words.joined(separator: "\n") + "\n\n", shuffleSeed: 4)
        #expect(corpus.words.count == 200 && corpus.trainingWordCount == 180)
        #expect(Set(corpus.words) == Set(Self.words))
        #expect(corpus.words != Self.words)
        let training = corpus.words[..<180]
        #expect(corpus.vocabulary.decode(corpus.training) == training.joined(separator: "\n") + "\n")
        #expect(corpus.vocabulary.decode(corpus.heldOut) == corpus.words[180...].joined(separator: "\n") + "\n")
        #expect(corpus.vocabulary.count == 11)
        let again = try WordListCorpus(text: Self.words.joined(separator: "\n"), shuffleSeed: 4)
        #expect(again.words == corpus.words)
        let other = try WordListCorpus(text: Self.words.joined(separator: "\n"), shuffleSeed: 5)
        #expect(other.words != corpus.words)
    }

    @Test("windows: targets are the inputs shifted by one, drawn deterministically from the seed")
    func windows() throws {
        let corpus = try WordListCorpus(text: Self.words.joined(separator: "\n"), shuffleSeed: 0)
        var a = RandomGenerator(seed: 9)
        var b = RandomGenerator(seed: 9)
        let (x, y) = corpus.batch(of: corpus.training, size: 8, context: 5, generator: &a)
        let (x2, y2) = corpus.batch(of: corpus.training, size: 8, context: 5, generator: &b)
        #expect(x == x2 && y == y2)
        #expect(x.shape == [8, 5] && y.shape == [8, 5])
        let (inputs, targets) = (x.scalars, y.scalars)
        let stream = corpus.training
        for row in 0..<8 {
            let window = Array(inputs[row * 5..<row * 5 + 5])
            let next = Array(targets[row * 5..<row * 5 + 5])
            #expect(Array(window.dropFirst()) == Array(next.dropLast()))
            let starts = (0..<stream.count - 6).filter { Array(stream[$0..<$0 + 5]) == window }
            #expect(starts.contains { stream[$0 + 5] == next[4] }, "window \(row) is not in the stream")
        }
        let fixed = corpus.fixedBatches(of: corpus.heldOut, count: 3, size: 4, context: 5, seed: 2)
        #expect(fixed.count == 3)
        #expect(
            fixed.map(\.inputs)
                == corpus.fixedBatches(of: corpus.heldOut, count: 3, size: 4, context: 5, seed: 2).map(\.inputs))
    }

    @Test("an empty file, invalid UTF-8 and a missing file are one-line errors naming the file")
    func badFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("text-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = folder.appendingPathComponent("empty.txt").path
        let invalid = folder.appendingPathComponent("invalid.txt").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        _ = FileManager.default.createFile(atPath: invalid, contents: Data([0x61, 0x0A, 0xFF, 0xFE, 0x0A, 0x62]))
        for (path, problem) in [
            (empty, "word"), (invalid, "not valid UTF-8"), (folder.path + "/none", "cannot be read"),
        ] {
            do {
                _ = try WordListCorpus(contentsOf: path, shuffleSeed: 0)
                Issue.record("\(path) was accepted")
            } catch {
                let message = "\(error)"
                #expect(message.contains(path) && message.contains(problem), "\(message)")
                #expect(!message.contains("\n"))
            }
        }
    }

    @Test("sampling: top-k 1 and temperature 0 are the arg-max; top-k keeps only the k largest; seeded")
    func sampling() {
        let logits: [Float] = [0.5, 2, -1, 1.9, 0]
        var generator = RandomGenerator(seed: 1)
        for _ in 0..<20 {
            #expect(sampleToken(logits: logits, topK: 1, generator: &generator) == 1)
            #expect(sampleToken(logits: logits, temperature: 0, generator: &generator) == 1)
            #expect([1, 3].contains(sampleToken(logits: logits, topK: 2, generator: &generator)))
        }
        var counts = [Int](repeating: 0, count: 5)
        for _ in 0..<4000 { counts[sampleToken(logits: logits, generator: &generator)] += 1 }
        // p = softmax(logits): 0.105, 0.470, 0.023, 0.425, 0.064.
        let expected = logits.map { exp(Double($0)) }
        let total = expected.reduce(0, +)
        for i in 0..<5 {
            #expect(abs(Double(counts[i]) / 4000 - expected[i] / total) < 0.03, "\(counts)")
        }
        var a = RandomGenerator(seed: 7)
        var b = RandomGenerator(seed: 7)
        let first = (0..<10).map { _ in sampleToken(logits: logits, temperature: 2, generator: &a) }
        #expect(first == (0..<10).map { _ in sampleToken(logits: logits, temperature: 2, generator: &b) })
    }

    @Test("GPT: nanoGPT's names, causal logits, a captured training step that lowers the loss")
    func gptTrainsCaptured() throws {
        let corpus = try WordListCorpus(text: Self.words.joined(separator: "\n"), shuffleSeed: 0)
        var generator = RandomGenerator(seed: 0)
        let model = GPT<Float>(
            vocabularySize: corpus.vocabulary.count, contextLength: 8, embedDim: 16, heads: 2, blocks: 2,
            generator: &generator)
        let names = model.namedParameters.map(\.name)
        #expect(names.first == "transformer.wte.weight" && names.last == "lm_head.bias")
        #expect(names.contains("transformer.h.1.attn.c_attn.weight"))
        // Causal: changing the last token leaves the earlier positions' logits unchanged.
        let a = model(IndexTensor([1, 2, 3, 4], shape: [1, 4])).scalars
        let b = model(IndexTensor([1, 2, 3, 7], shape: [1, 4])).scalars
        let v = corpus.vocabulary.count
        #expect(Array(a[..<(3 * v)]) == Array(b[..<(3 * v)]))
        #expect(Array(a[(3 * v)...]) != Array(b[(3 * v)...]))

        let optimizer = AdamW(for: model, learningRate: 1e-2, beta1: 0.9, beta2: 0.99)
        let step = CapturedStep { (x: IndexTensor, y: IndexTensor) -> Tensor<Float> in
            optimizer.zeroGrad()
            let loss = model.loss(x, y)
            loss.backward()
            optimizer.step()
            return loss
        }
        let held = corpus.fixedBatches(of: corpus.heldOut, count: 4, size: 16, context: 8, seed: 2)
        let before = model.meanLoss(over: held)
        model.train()
        var windows = RandomGenerator(seed: 1)
        for _ in 0..<60 {
            let (x, y) = corpus.batch(of: corpus.training, size: 16, context: 8, generator: &windows)
            _ = step(x, y)
        }
        #expect(step.eagerReason == nil)
        #expect(step.replayedCalls >= 50)
        let after = model.meanLoss(over: held)
        #expect(after < before - 0.5, "held-out loss \(before) → \(after)")
        var sampler = RandomGenerator(seed: 3)
        let sampled = model.generate(
            prompt: [corpus.vocabulary.separatorIndex], maxNewTokens: 12, stop: corpus.vocabulary.separatorIndex,
            generator: &sampler)
        #expect(!sampled.isEmpty && sampled.count <= 12)
        #expect(sampled.dropLast().allSatisfy { $0 != corpus.vocabulary.separatorIndex })
    }
}
