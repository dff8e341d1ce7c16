import AirlockAdminAPI
import Foundation
import HTTPTypes
import Testing

/// `docs/openapi.yaml` describes exactly the routes the router serves (`AdminAPI.routes`): no
/// route without its description, no description of a route that does not exist. Whether the
/// answers match the descriptions is checked against a live appliance by schemathesis
/// (`Tests/e2e/test_admin_api.py`).
@Suite struct OpenAPISpecTests {
    /// One operation as the document lists it.
    struct Operation: Hashable, CustomStringConvertible {
        var method: String
        var path: String
        var operationID: String?

        var description: String { "\(method.uppercased()) \(path)" }
    }

    static let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    static func specText() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
    }

    /// The operations under the top-level `paths:` key, read by indentation (no YAML library):
    /// a path is a key two spaces in, a method a key four spaces in, its `operationId` six.
    /// Block keys only — which is how the document is written.
    static func operations(in yaml: String) -> [Operation] {
        var operations: [Operation] = []
        var inPaths = false
        var path: String?
        for rawLine in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine)
            let content = line.drop(while: { $0 == " " })
            if content.isEmpty || content.hasPrefix("#") { continue }
            let indent = line.count - content.count
            if indent == 0 {
                inPaths = content.hasPrefix("paths:")
                path = nil
                continue
            }
            guard inPaths, let colon = content.firstIndex(of: ":") else { continue }
            let key = unquoted(String(content[..<colon]))
            let value = unquoted(String(content[content.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
            switch indent {
            case 2:
                path = key
            case 4 where methods.contains(key):
                if let path { operations.append(Operation(method: key, path: path, operationID: nil)) }
            case 6 where key == "operationId":
                // Only the operation just opened at indent 4 under the current path.
                if let last = operations.indices.last, operations[last].path == path, operations[last].operationID == nil {
                    operations[last].operationID = value
                }
            default:
                break
            }
        }
        return operations
    }

    static func unquoted(_ text: String) -> String {
        for quote in ["\"", "'"] where text.count >= 2 && text.hasPrefix(quote) && text.hasSuffix(quote) {
            return String(text.dropFirst().dropLast())
        }
        return text
    }

    static func routeOperations() -> [Operation] {
        AdminAPI.routes.map { Operation(method: $0.method.rawValue.lowercased(), path: $0.path, operationID: $0.operation) }
    }

    struct Endpoint: Hashable, CustomStringConvertible {
        var method: String
        var path: String
        var description: String { "\(method.uppercased()) \(path)" }
    }

    @Test func theDocumentListsExactlyTheRoutesTheRouterServes() throws {
        let documented = Self.operations(in: try Self.specText())
        #expect(documented.count > 0, "no operations found under paths: in docs/openapi.yaml")
        let spec = documented.map { Endpoint(method: $0.method, path: $0.path) }
        let routes = Self.routeOperations().map { Endpoint(method: $0.method, path: $0.path) }
        #expect(Set(spec).count == spec.count, "an operation is listed twice in docs/openapi.yaml")
        #expect(Set(routes).count == routes.count, "AdminAPI.routes has a method and path twice")
        let undocumented = Set(routes).subtracting(spec).map(\.description).sorted()
        let unrouted = Set(spec).subtracting(routes).map(\.description).sorted()
        #expect(undocumented.isEmpty, "routes missing from docs/openapi.yaml: \(undocumented)")
        #expect(unrouted.isEmpty, "docs/openapi.yaml describes routes AdminAPI.routes does not have: \(unrouted)")
    }

    @Test func everyOperationHasAUniqueOperationID() throws {
        let documented = Self.operations(in: try Self.specText())
        let missing = documented.filter { $0.operationID?.isEmpty ?? true }.map(\.description)
        #expect(missing.isEmpty, "operations without an operationId: \(missing)")
        let ids = documented.compactMap(\.operationID)
        let repeated = Dictionary(grouping: ids, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        #expect(repeated.isEmpty, "operationIds used more than once: \(repeated)")
    }

    /// `AdminRoute.operation` is both the audit log's name for a denied request and the
    /// document's operationId, so the two cannot drift apart.
    @Test func eachOperationIDIsTheRoutesOperationName() throws {
        let documented = Dictionary(Self.operations(in: try Self.specText()).map { (Endpoint(method: $0.method, path: $0.path), $0.operationID) },
                                    uniquingKeysWith: { first, _ in first })
        for route in Self.routeOperations() {
            let endpoint = Endpoint(method: route.method, path: route.path)
            guard let documentedID = documented[endpoint] else { continue }  // reported by the test above
            #expect(documentedID == route.operationID, "\(endpoint): operationId \(documentedID ?? "nil"), route operation \(route.operationID ?? "nil")")
        }
    }

    @Test func theReaderFindsPathsMethodsAndOperationIDsOnly() {
        let yaml = """
            openapi: 3.0.3
            info:
              title: x
            paths:
              # a comment
              /a/{id}:
                parameters: []
                get:
                  operationId: "read a"
                  responses: {}
                post:
                  summary: no id
              "/b":
                delete:
                  operationId: 'remove b'
            components:
              schemas:
                get:
                  operationId: not an operation
            """
        let found = Self.operations(in: yaml)
        #expect(found == [
            Operation(method: "get", path: "/a/{id}", operationID: "read a"),
            Operation(method: "post", path: "/a/{id}", operationID: nil),
            Operation(method: "delete", path: "/b", operationID: "remove b"),
        ])
    }
}
