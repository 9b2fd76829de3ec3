import CrawlRunCLI
import Foundation

// crawlrun: the thin entry point; every command lives in the CrawlRunCLI library.
exit(await CLI.main(CommandLine.arguments))
