import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Parses a document with Foundation's `XMLParser` and collects what the tests look at.
final class XMLCheck: NSObject, XMLParserDelegate {
    private(set) var elementNames: [String] = []
    private(set) var texts: [String] = []
    private(set) var rootAttributes: [String: String] = [:]
    private var currentText = ""
    private(set) var error: String?

    /// `nil` when `document` is well-formed XML; otherwise the parser's complaint.
    static func parse(_ document: String) -> XMLCheck {
        let check = XMLCheck()
        let parser = XMLParser(data: Data(document.utf8))
        parser.delegate = check
        if !parser.parse() {
            check.error = parser.parserError.map { "\($0)" } ?? "unknown parse error"
        }
        return check
    }

    var isWellFormed: Bool { error == nil }

    /// How many elements are named `name`.
    func count(_ name: String) -> Int { elementNames.filter { $0 == name }.count }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName: String?, attributes: [String: String] = [:]
    ) {
        if elementNames.isEmpty { rootAttributes = attributes }
        elementNames.append(elementName)
        currentText = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        currentText += string
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        if elementName == "text" { texts.append(currentText) }
        currentText = ""
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
        error = "\(parseError)"
    }
}
