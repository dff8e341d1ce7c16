import AirlockCore
import Foundation
import Testing

@Suite struct UnixMillisTests {
    @Test(arguments: [
        (Int64(1_795_422_668_593), "2026-11-23T08:31:08.593Z"),
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (Int64(-1), "1969-12-31T23:59:59.999Z"),
        (Int64(1_000), "1970-01-01T00:00:01.000Z"),
    ])
    func formatsExactlyToTheMillisecond(value: Int64, text: String) {
        #expect(UnixMillis(value).description == text)
    }
}

@Suite struct UsageIDTests {
    @Test func idsAreVersion7AndOrderedByTime() {
        let earlier = UsageID.generate(at: UnixMillis(1_800_000_000_000))
        let later = UsageID.generate(at: UnixMillis(1_800_000_000_001))
        #expect(earlier < later)
        #expect(UUID(uuidString: earlier) != nil)
        #expect(Array(earlier)[14] == "7")
        #expect("89ab".contains(Array(earlier)[19]))
        #expect(earlier.hasPrefix("01a3185c-5000"))
        #expect(earlier == earlier.lowercased())
    }

    @Test func compactIdsAreTheSameFormWithoutDashes() {
        let compact = UsageID.compact(at: UnixMillis(1_800_000_000_000))
        #expect(compact.count == 32)
        #expect(compact.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(compact.hasPrefix("01a3185c50007"))
        #expect(Set((0..<100).map { _ in UsageID.compact() }).count == 100)
    }
}
