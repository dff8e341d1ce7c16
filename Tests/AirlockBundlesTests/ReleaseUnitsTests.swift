@testable import AirlockBundles
import Foundation
import Testing

/// Installed systemd units against the current release's: an upgrade never writes them, so it
/// must say which differ.
struct ReleaseUnitsTests {
    @Test func anInstalledUnitThatDiffersFromTheCurrentReleasesIsReportedWithTheCommandsToInstallIt() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        let units = fixture.dir.child("etc-systemd-system")
        try FileManager.default.createDirectory(atPath: units, withIntermediateDirectories: true)
        let installed = units + "/airlockd.service"

        // Not installed here (as the agent's unit on the control host): nothing to say.
        #expect(ReleaseUnits.differences(fixture.prefix, unitDirectory: units).isEmpty)

        try Data("appliance/systemd/airlockd.service of release 1.0.0\n".utf8).write(to: URL(fileURLWithPath: installed))
        #expect(ReleaseUnits.differences(fixture.prefix, unitDirectory: units).isEmpty)

        // The release moves on; the installed copy stays what the first install put there.
        try fixture.install("1.1.0")
        let differences = ReleaseUnits.differences(fixture.prefix, unitDirectory: units)
        let shipped = fixture.prefix.root + "/current/appliance/systemd/airlockd.service"
        #expect(differences == [.init(unit: "airlockd.service", installed: installed, shipped: shipped)])
        #expect(differences.first?.commands
            == "sudo install -m 0644 \(shipped) \(installed) && sudo systemctl daemon-reload && sudo systemctl restart airlockd.service")

        // Installed as told: nothing left to say.
        try FileManager.default.removeItem(atPath: installed)
        try FileManager.default.copyItem(atPath: shipped, toPath: installed)
        #expect(ReleaseUnits.differences(fixture.prefix, unitDirectory: units).isEmpty)

        // An installed unit this user cannot read differs (it is not known to match). Root reads
        // anything, so only check this as another user.
        if getuid() != 0 {
            chmod(installed, 0)
            #expect(ReleaseUnits.differences(fixture.prefix, unitDirectory: units).count == 1)
        }
    }

    @Test func nothingIsInstalledYet() {
        let fixture = BundleFixture()
        #expect(ReleaseUnits.differences(fixture.prefix, unitDirectory: fixture.dir.path).isEmpty)
    }
}
