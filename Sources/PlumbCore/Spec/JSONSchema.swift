import Foundation

/// JSON Schema (draft 2020-12) for spec files, rendered from `SpecSchema`, so editors
/// (yaml-language-server) complete and check exactly the keys the decoder accepts.
package enum JSONSchema {
    /// The files a schema exists for.
    package enum Kind: String, Sendable, CaseIterable {
        case pipeline, environment

        var root: SchemaObject { self == .pipeline ? SpecSchema.pipeline : SpecSchema.environment }
        /// The file name `plumb schema --output` writes.
        package var fileName: String { "\(rawValue).schema.json" }
    }

    /// The schema document for `kind`.
    static func document(_ kind: Kind) -> JSONValue {
        var defs: [String: JSONValue] = [:]
        var root = object(kind.root, defs: &defs)
        guard case var .object(fields) = root else { return root }
        fields["$schema"] = .string("https://json-schema.org/draft/2020-12/schema")
        fields["$id"] = .string("https://plumb.dev/schema/\(kind.fileName)")
        fields["title"] = .string(kind == .pipeline ? "Plumb pipeline (spec/pipeline.yaml)" : "Plumb environment (environments/<name>.yaml)")
        if !defs.isEmpty { fields["$defs"] = .object(defs) }
        root = .object(fields)
        return root
    }

    /// The schema as pretty JSON text with sorted keys and a trailing newline.
    package static func text(_ kind: Kind) -> String {
        (try? RecordJSON.encode(document(kind))).map { String(decoding: $0, as: UTF8.self) } ?? "{}\n"
    }

    private static func object(_ shape: SchemaObject, defs: inout [String: JSONValue]) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        for field in shape.fields {
            var property = type(field.type, defs: &defs)
            if shape.templated, field.type.isTyped {
                // `timeout: ${item.timeout}`: one reference, resolved to the typed value before decoding.
                property = .object(["anyOf": .array([property, reference])])
            }
            if case var .object(p) = property { p["description"] = .string(field.doc); property = .object(p) }
            properties[field.name] = property
        }
        var out: [String: JSONValue] = [
            "type": .string("object"),
            "description": .string(shape.doc),
            "properties": .object(properties),
            "additionalProperties": .bool(false),
        ]
        let required = shape.fields.filter(\.required).map { JSONValue.string($0.name) }
        if !required.isEmpty { out["required"] = .array(required) }
        if !shape.requiresOneOf.isEmpty {
            out["anyOf"] = .array(shape.requiresOneOf.map { .object(["required": .array([.string($0)])]) })
        }
        return .object(out)
    }

    /// A whole value that is one `${…}` reference.
    private static let reference: JSONValue = .object(["type": .string("string"), "pattern": .string("^\\$\\{[^}]+\\}$")])

    /// A reference to `shape` in `$defs`, adding it on first use.
    private static func reference(_ shape: SchemaObject, defs: inout [String: JSONValue]) -> JSONValue {
        if defs[shape.name] == nil {
            defs[shape.name] = .object([:])  // placeholder against recursion
            defs[shape.name] = object(shape, defs: &defs)
        }
        return .object(["$ref": .string("#/$defs/\(shape.name)")])
    }

    private static func type(_ type: SchemaType, defs: inout [String: JSONValue]) -> JSONValue {
        switch type {
        case let .string(nonEmpty):
            return nonEmpty ? .object(["type": .string("string"), "minLength": .int(1), "pattern": .string("\\S")]) : .object(["type": .string("string")])
        case .boolean:
            return .object(["type": .string("boolean")])
        case let .choice(words):
            return .object(["type": .string("string"), "enum": .array(words.map { .string($0) })])
        case .strings:
            return .object(["anyOf": .array([.object(["type": .string("string")]),
                                             .object(["type": .string("array"), "items": .object(["type": .string("string")])])])])
        case .commands:
            let command: JSONValue = .object(["type": .string("string"), "minLength": .int(1), "pattern": .string("\\S")])
            return .object(["anyOf": .array([command, .object(["type": .string("array"), "minItems": .int(1), "items": command])])])
        case let .outputs(shape):
            let entry: JSONValue = .object(["anyOf": .array([
                .object(["type": .string("string")]),
                .object(["type": .string("object"), "minProperties": .int(1), "maxProperties": .int(1),
                         "additionalProperties": .object(["anyOf": .array([.object(["type": .string("null")]), reference(shape, defs: &defs)])])]),
            ])])
            return .object(["anyOf": .array([.object(["type": .string("string")]), .object(["type": .string("array"), "items": entry])])])
        case let .integer(minimum, maximum):
            return .object(["type": .string("integer"), "minimum": .int(minimum), "maximum": .int(maximum)])
        case .number:
            return .object(["type": .string("number")])
        case .duration:
            return .object(["anyOf": .array([.object(["type": .string("number"), "exclusiveMinimum": .int(0)]),
                                             .object(["type": .string("string"), "pattern": .string(SpecSchema.durationPattern)])])])
        case .variables:
            return .object(["type": .string("object"),
                            "propertyNames": .object(["pattern": .string(SpecSchema.variablePattern)]),
                            "additionalProperties": .object(["type": .array([.string("string"), .string("number"), .string("boolean")])])])
        case .anyMapping:
            return .object(["type": .string("object")])
        case let .version(v):
            return .object(["const": .int(v)])
        case let .objects(shape):
            return .object(["type": .string("array"), "items": reference(shape, defs: &defs)])
        case let .object(shape):
            // allOf, so the field's description can sit beside the reference.
            return .object(["allOf": .array([reference(shape, defs: &defs)])])
        case let .namedObjects(shape):
            return .object(["type": .string("object"),
                            "propertyNames": .object(["pattern": .string(SpecSchema.namePattern)]),
                            "additionalProperties": reference(shape, defs: &defs)])
        case let .namedStages(shape, fanOut):
            return .object(["type": .string("object"),
                            "propertyNames": .object(["pattern": .string(SpecSchema.namePattern)]),
                            "additionalProperties": .object(["oneOf": .array([reference(shape, defs: &defs), reference(fanOut, defs: &defs)])])])
        case .varsSources:
            return .object(["type": .string("array"),
                            "items": .object(["anyOf": .array([.object(["type": .string("string")]), .object(["type": .string("object")])])])])
        case .fanOutItems:
            return .object(["anyOf": .array([.object(["type": .string("array")]), .object(["type": .string("object")]),
                                             .object(["type": .string("string"), "pattern": .string("^\\$\\{[^}]+\\}$")])])])
        case let .plotEntries(options):
            // A path, or an object of exactly one path whose value is its options (or null).
            let entry: JSONValue = .object(["anyOf": .array([
                .object(["type": .string("string")]),
                .object(["type": .string("object"), "minProperties": .int(1), "maxProperties": .int(1),
                         "additionalProperties": .object(["anyOf": .array([reference(options, defs: &defs), .object(["type": .string("null")])])])]),
            ])])
            return .object(["anyOf": .array([.object(["type": .string("string")]), .object(["type": .string("array"), "items": entry])])])
        case .matrixAxes:
            return .object(["type": .string("object"), "minProperties": .int(1),
                            "additionalProperties": .object(["anyOf": .array([.object(["type": .string("array"), "minItems": .int(1)]),
                                                                              .object(["type": .string("string"), "pattern": .string("^\\$\\{[^}]+\\}$")])])])])
        }
    }

    /// Every key the schema for `kind` declares, by mapping shape: what tests compare with the decoder.
    static func declaredKeys(_ kind: Kind) -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        func walk(_ value: JSONValue, name: String) {
            guard case let .object(o) = value, case let .object(props)? = o["properties"] else { return }
            out[name] = Set(props.keys)
        }
        guard case let .object(doc) = document(kind) else { return [:] }
        walk(.object(doc), name: kind.root.name)
        if case let .object(defs)? = doc["$defs"] { for (name, def) in defs { walk(def, name: name) } }
        return out
    }
}
