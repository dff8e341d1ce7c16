import AirlockAdmin
import AirlockCore
import ArgumentParser

struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "The model catalog: the models agents may register and clients may request.",
        discussion: """
            Names are exact and case-sensitive, as clients send them in "model" \
            (meta-llama/Llama-3.1-8B-Instruct, smollm2:135m, qwen2.5-7b@v2).
            """,
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a model to the catalog.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The model's name: 1-256 bytes, printable, no spaces at either end.") var name: String

        func run() async throws {
            try await runReportingErrors {
                let model = try await global.admin().addModel(name: name, by: global.actor)
                global.json ? Output.json(model) : print("added model \(model.name) to the catalog")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the catalog, by name.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReportingErrors {
                let models = try await global.admin().listModels()
                if global.json { return Output.json(models) }
                Output.table(["NAME", "ADDED"], models.map { [$0.name, $0.createdAt.description] })
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a model from the catalog.",
            discussion: """
                Agents can no longer register it and clients can no longer request it: connected \
                nodes stop being offered it within a second. API keys that list it in their allowed \
                models are left as they are: they simply cannot use it (until it is added again). \
                The development [[engines]] list is not checked against the catalog.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The model's exact name.") var name: String

        func run() async throws {
            try await runReportingErrors {
                let model = try await global.admin().removeModel(name: name, by: global.actor)
                global.json ? Output.json(model) : print("removed model \(model.name) from the catalog")
            }
        }
    }
}
