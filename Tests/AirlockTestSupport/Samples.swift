import AirlockCore
import Foundation

/// Plausible values for tests that need a row and do not care about its contents.
public enum Samples {
    public static func usage(_ index: Int, at timestamp: UnixMillis = UnixMillis(1_800_000_000_000)) -> UsageRecord {
        UsageRecord(
            usageID: UsageID.generate(at: timestamp), requestID: "req_\(index)",
            timestamp: timestamp, orgID: OrgID(unchecked: "org_00000000000000a1"),
            envID: EnvID(unchecked: "env_00000000000000b2"), keyID: KeyID(unchecked: "key_00000000000000c3"),
            zone: "hall-a", model: "llama-3-8b", node: "gpu-07", promptTokens: Int64(10 + index % 50),
            completionTokens: Int64(100 + index % 200), latencyMillis: 250, costMicros: 1_234,
            streamed: index % 2 == 0, finishReason: "stop", tokenSource: .engine)
    }
}
