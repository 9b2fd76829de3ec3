import CrawlKit
import Foundation
import JSONKit
import Testing

/// How a job names its images (README, "Images").
@Suite struct ImagesTests {
    func task(_ json: String) throws -> TaskSettings {
        let text = #"{"name": "j", "urls": ["https://example.com/"], "task": "# + json + "}"
        return try Job.parse(Data(text.utf8), path: "job.json", backend: .local).task
    }

    @Test func theDefaultSidecarFollowsTheArchitecture() throws {
        #expect(try task("{}").sidecarImage == "selenium/standalone-chrome:4.27.0-20241225")
        #expect(try task(#"{"architecture": "ARM64"}"#).sidecarImage == "selenium/standalone-chromium:4.27.0-20241225")
        // A sidecar the job names is kept whatever the architecture.
        let own = try task(#"{"architecture": "ARM64", "sidecarImage": "123.dkr.ecr.us-east-1.amazonaws.com/s:1"}"#)
        #expect(own.sidecarImage == "123.dkr.ecr.us-east-1.amazonaws.com/s:1")
        let definition = TaskDefinition.render(
            try Job.parse(
                Data(#"{"name": "j", "urls": ["https://example.com/"], "task": {"architecture": "ARM64"}}"#.utf8),
                path: "job.json", backend: .local))
        #expect(
            definition["containerDefinitions"]?.arrayValue?.first?["image"]
                == "selenium/standalone-chromium:4.27.0-20241225")
    }
}
