import AutoDiff
import Foundation

// Character-level text data for small language models (Karpathy's makemore and nanoGPT): a
// vocabulary of the Unicode scalars of a text, a word list split as
// `../shared/peers/torch_models.py gpt-words` splits it, random context windows drawn from a
// seeded generator, and sampling from a model's last-position logits.

/// The characters of a text, sorted by code point, each with its index (nanoGPT's `stoi`/`itos`).
///
/// A character is a Unicode scalar, as a Python `str` counts them, so the indices are those of
/// `sorted(set(text))` in Python. ``wordSeparator`` (a newline) is always in the vocabulary: it
/// ends every word of a word list.
///
/// ```swift
/// let vocabulary = CharacterVocabulary(text: "banana")      // "\n", "a", "b", "n"
/// let indices = try vocabulary.encode("nab")                // [3, 1, 2]
/// vocabulary.decode(indices)                                // "nab"
/// ```
public struct CharacterVocabulary: Equatable, Sendable {
    /// The token that ends each word of a word list (and separates lines of any text).
    public static let wordSeparator: Unicode.Scalar = "\n"

    /// The characters in index order (ascending code points).
    public let characters: [Unicode.Scalar]
    private let indices: [Unicode.Scalar: Int]

    /// The sorted distinct characters of `text`, plus ``wordSeparator``.
    public init(text: String) {
        var present = Set(text.unicodeScalars)
        present.insert(Self.wordSeparator)
        self.init(sortedCharacters: present.sorted { $0.value < $1.value })
    }

    private init(sortedCharacters: [Unicode.Scalar]) {
        characters = sortedCharacters
        indices = Dictionary(uniqueKeysWithValues: sortedCharacters.enumerated().map { ($1, $0) })
    }

    /// The number of characters, the model's number of classes.
    public var count: Int { characters.count }

    /// The index of ``wordSeparator``.
    public var separatorIndex: Int { indices[Self.wordSeparator]! }

    /// The index of each character of `text`; a character outside the vocabulary is an error
    /// naming it and its position.
    public func encode(_ text: String) throws -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(text.unicodeScalars.count)
        for (position, character) in text.unicodeScalars.enumerated() {
            guard let index = indices[character] else {
                throw NNError.dataset(
                    "character \(Self.describe(character)) at position \(position) is not in the vocabulary of \(count) characters"
                )
            }
            result.append(index)
        }
        return result
    }

    /// The text of `indices`; an index outside `0..<count` is a programmer error.
    public func decode(_ indices: [Int]) -> String {
        var text = String.UnicodeScalarView()
        for index in indices {
            guard index >= 0, index < count else {
                tensorFailure("CharacterVocabulary.decode: index \(index) is out of range for \(count) characters")
            }
            text.append(characters[index])
        }
        return String(text)
    }

    /// The vocabulary as one string (its characters in order), as a model file's metadata keeps it.
    public var serialized: String { String(String.UnicodeScalarView(characters)) }

    /// The vocabulary a model file saved with ``serialized``; characters out of order, repeated or
    /// without ``wordSeparator`` are an error.
    public init(serialized: String) throws {
        let characters = Array(serialized.unicodeScalars)
        guard zip(characters, characters.dropFirst()).allSatisfy({ $0.value < $1.value }),
            characters.contains(Self.wordSeparator)
        else {
            throw NNError.dataset(
                "a saved vocabulary must list distinct characters in ascending order, including the newline; got \(characters.count) characters"
            )
        }
        self.init(sortedCharacters: characters)
    }

    /// `"a"` for a printable character, `U+000A` otherwise.
    static func describe(_ character: Unicode.Scalar) -> String {
        character.properties.isWhitespace || character.value < 0x20
            ? "U+" + String(character.value, radix: 16, uppercase: true).leftPadded(to: 4)
            : "\"\(character)\""
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// A word list as a character-level language-modelling data set, prepared as
/// `torch_models.py gpt-words` prepares it: the non-empty lines are words; they are shuffled
/// with a seeded generator; the last `heldOutFraction` of them (after `⌊n·(1 − f)⌋` training
/// words) are held out; each split is the words joined by newlines with a final newline, encoded
/// with the vocabulary of every character of the words plus the newline.
///
/// ```swift
/// let words = try WordListCorpus(contentsOf: "/usr/share/dict/words", shuffleSeed: 0)
/// var generator = RandomGenerator(seed: 1)
/// let (x, y) = words.batch(of: words.training, size: 64, context: 16, generator: &generator)
/// ```
public struct WordListCorpus: Sendable {
    /// The characters of the words and the newline.
    public let vocabulary: CharacterVocabulary
    /// The words in shuffled order, training words first.
    public let words: [String]
    /// How many of ``words`` are training words.
    public let trainingWordCount: Int
    /// The training words as one encoded stream (each word followed by the newline).
    public let training: [Int]
    /// The held-out words as one encoded stream.
    public let heldOut: [Int]

    /// The word list in the UTF-8 file at `path`. A missing or unreadable file, invalid UTF-8
    /// or a file without a word is a one-line error naming the file.
    public init(
        contentsOf path: String, heldOutFraction: Double = 0.1, shuffleSeed: UInt64,
        vocabulary: CharacterVocabulary? = nil
    ) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NNError.dataset("text file \(path): cannot be read")
        }
        guard let text = String(validatingUTF8Bytes: data) else {
            throw NNError.dataset("text file \(path): not valid UTF-8")
        }
        try self.init(
            text: text, name: "text file \(path)", heldOutFraction: heldOutFraction, shuffleSeed: shuffleSeed,
            vocabulary: vocabulary)
    }

    /// The word list `text` (one word per line); `name` names it in errors. With `vocabulary`
    /// (a loaded model's), the words are encoded with it, and a character outside it is an error;
    /// otherwise the vocabulary is the words' characters.
    public init(
        text: String, name: String = "text", heldOutFraction: Double = 0.1, shuffleSeed: UInt64,
        vocabulary: CharacterVocabulary? = nil
    ) throws {
        guard heldOutFraction > 0, heldOutFraction < 1 else {
            throw NNError.dataset("\(name): held-out fraction \(heldOutFraction) is outside (0, 1)")
        }
        var words = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard words.count >= 2 else {
            throw NNError.dataset(
                "\(name): has \(words.count) word\(words.count == 1 ? "" : "s"); at least 2 are needed (one per line)")
        }
        var shuffler = RandomGenerator(seed: shuffleSeed)
        words = shuffler.permutation(words.count).map { words[$0] }
        let cut = Int(Double(words.count) * (1 - heldOutFraction))
        guard cut > 0, cut < words.count else {
            throw NNError.dataset(
                "\(name): \(words.count) words leave an empty split at held-out fraction \(heldOutFraction)")
        }
        let vocabulary = vocabulary ?? CharacterVocabulary(text: words.joined())
        func stream(_ slice: ArraySlice<String>) throws -> [Int] {
            do {
                return try vocabulary.encode(slice.joined(separator: "\n") + "\n")
            } catch let error as NNError {
                throw NNError.dataset("\(name): \(error.description.dropFirst("dataset: ".count))")
            }
        }
        self.vocabulary = vocabulary
        self.words = words
        trainingWordCount = cut
        training = try stream(words[..<cut])
        heldOut = try stream(words[cut...])
    }

    /// `size` windows of `context` characters at uniform random starts in `stream` (`0 ..<
    /// stream.count − context − 1`, as `torch.randint` in the peer), as `[size, context]` inputs
    /// and the next characters as `[size, context]` targets. A stream shorter than
    /// `context + 2` characters is a programmer error.
    public func batch(
        of stream: [Int], size: Int, context: Int, generator: inout RandomGenerator
    ) -> (inputs: IndexTensor, targets: IndexTensor) {
        Self.windows(of: stream, size: size, context: context, generator: &generator)
    }

    /// `count` batches of `stream` drawn from a generator seeded with `seed`: the same windows on
    /// every call, for a held-out loss that is comparable from one evaluation to the next (the
    /// peer's 50 batches from `torch.Generator().manual_seed(2)`).
    public func fixedBatches(
        of stream: [Int], count: Int, size: Int, context: Int, seed: UInt64
    ) -> [(inputs: IndexTensor, targets: IndexTensor)] {
        var generator = RandomGenerator(seed: seed)
        return (0..<count).map { _ in Self.windows(of: stream, size: size, context: context, generator: &generator) }
    }

    /// ``batch(of:size:context:generator:)`` for any encoded stream.
    public static func windows(
        of stream: [Int], size: Int, context: Int, generator: inout RandomGenerator
    ) -> (inputs: IndexTensor, targets: IndexTensor) {
        guard size > 0, context > 0, stream.count >= context + 2 else {
            tensorFailure(
                "WordListCorpus.windows: \(size) windows of \(context) characters need a stream of at least \(context + 2) characters, got \(stream.count)"
            )
        }
        let starts = stream.count - context - 1
        var inputs: [Int] = []
        var targets: [Int] = []
        inputs.reserveCapacity(size * context)
        targets.reserveCapacity(size * context)
        for _ in 0..<size {
            let start = Int(generator.next() % UInt64(starts))
            inputs += stream[start..<start + context]
            targets += stream[start + 1..<start + 1 + context]
        }
        return (IndexTensor(inputs, shape: [size, context]), IndexTensor(targets, shape: [size, context]))
    }
}

extension String {
    /// The text of UTF-8 `data`, or nil when it is not valid UTF-8.
    fileprivate init?(validatingUTF8Bytes data: Data) {
        guard let text = String(data: data, encoding: .utf8) else { return nil }
        self = text
    }
}

/// Draws the next token from one position's logits `z` (`[classes]`): with `topK`, only the `k`
/// largest logits are kept (ties broken by lower index); the rest are sampled from
/// `softmax(z / temperature)`:
///
///     p_i = exp((z_i − max z)/τ) / Σ_{j kept} exp((z_j − max z)/τ)     for kept i, 0 otherwise
///
/// `topK = 1` is the arg-max, and so is a temperature of 0. A negative temperature or a `topK`
/// below 1 is a programmer error.
public func sampleToken<Scalar: TensorScalar>(
    logits: [Scalar], temperature: Double = 1, topK: Int? = nil, generator: inout RandomGenerator
) -> Int {
    guard !logits.isEmpty else { tensorFailure("sampleToken: no logits") }
    guard temperature >= 0, temperature.isFinite else {
        tensorFailure("sampleToken: temperature \(temperature) must be a finite number ≥ 0")
    }
    if let topK, topK < 1 { tensorFailure("sampleToken: topK \(topK) must be at least 1") }
    let values = logits.map { Double($0) }
    let order = values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
    let kept = Array(order.prefix(min(topK ?? values.count, values.count)))
    if kept.count == 1 || temperature == 0 { return kept[0] }
    let largest = values[kept[0]]
    let weights = kept.map { exp((values[$0] - largest) / temperature) }
    var threshold = generator.nextUniform() * weights.reduce(0, +)
    for (index, weight) in zip(kept, weights) {
        threshold -= weight
        if threshold < 0 { return index }
    }
    return kept[kept.count - 1]
}
