// crawlrun: thin entry point; every command lives in the Coordinator library.
import Coordinator
import Foundation

exit(await CLI.main(CommandLine.arguments))
