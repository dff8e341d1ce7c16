@testable import AirlockAdmission
import HTTPTypes
import AirlockIdentity
import Foundation
import Hummingbird
import Testing

@testable import AirlockGateway

@Suite("OpenAI-shaped errors and rate-limit headers")
struct OpenAIErrorTests {
    private func decoded(_ error: OpenAIError) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(buffer: error.body)) as? [String: Any]
        return try #require(object?["error"] as? [String: Any])
    }

    @Test("the body has exactly message, type, param and code, escaped")
    func shape() throws {
        let error = OpenAIError.modelNotFound("evil\"\n</script>")
        let fields = try decoded(error)
        #expect(Set(fields.keys) == ["message", "type", "param", "code"])
        #expect(fields["code"] as? String == "model_not_found")
        #expect((fields["message"] as? String)?.contains("evil\"\n</script>") == true)
        #expect(error.status == .notFound)
    }

    @Test("a long caller-supplied name is clipped in the error")
    func clipped() throws {
        let message = try decoded(.modelNotFound(String(repeating: "a", count: 10_000)))["message"] as? String
        #expect((message?.count ?? 0) < 300)
    }

    @Test("key refusals: suspended is 403 tenant_suspended; every other reason is the same 401")
    func keyRefusals() {
        #expect(OpenAIError.refused(.suspended(.env)).status == .forbidden)
        #expect(OpenAIError.refused(.suspended(.env)).code == "tenant_suspended")
        for refusal in [KeyRefusal.unknown, .malformed, .retired, .revoked(.key), .revoked(.org)] {
            #expect(OpenAIError.refused(refusal) == OpenAIError.refused(.unknown))
        }
    }

    @Test("admission refusals keep the seed's status and code, with Retry-After in whole seconds")
    func admission() {
        let refusal = AdmissionRefusal(layer: .key, limit: .requestsPerMinute, limitValue: 10, retryAfterMillis: 1_200,
                                       rateLimits: .unlimited)
        let error = OpenAIError.admission(refusal)
        #expect(error.status == .tooManyRequests && error.code == "rate_limit_exceeded" && error.retryAfterSeconds == 2)
        let quota = OpenAIError.admission(AdmissionRefusal(layer: .org, limit: .tokensPerDay, limitValue: 5, retryAfterMillis: nil,
                                                           rateLimits: .unlimited))
        #expect(quota.status == .forbidden && quota.code == "quota_exceeded")
        let busy = OpenAIError.admission(AdmissionRefusal(layer: .global, limit: .concurrency, limitValue: 5, retryAfterMillis: 500,
                                                          rateLimits: .unlimited))
        #expect(busy.code == "server_busy" && busy.retryAfterSeconds == 1)
    }

    @Test("resets are written as OpenAI writes them", arguments: [
        (0, "0ms"), (120, "120ms"), (1_000, "1s"), (1_500, "1.5s"), (60_000, "1m0s"), (360_000, "6m0s"), (61_250, "1m1.25s"),
    ] as [(Int64, String)])
    func durations(millis: Int64, text: String) {
        #expect(RateLimitHeaders.duration(millis) == text)
    }

    @Test("bearer tokens: one well-formed header or nothing")
    func bearer() {
        #expect(BearerToken.extract([.authorization: "Bearer alk_abc"]) == "alk_abc")
        #expect(BearerToken.extract([.authorization: "bearer  alk_abc "]) == "alk_abc")
        for value in ["", "Bearer", "Bearer ", "Basic alk_abc", "Bearer alk abc", "Bearer alk\tabc",
                      "Bearer " + String(repeating: "a", count: 300)] {
            #expect(BearerToken.extract([.authorization: value]) == nil, "\(value)")
        }
        var two = HTTPFields()
        two.append(HTTPField(name: .authorization, value: "Bearer a"))
        two.append(HTTPField(name: .authorization, value: "Bearer b"))
        #expect(BearerToken.extract(two) == nil)
    }
}
