/// The pseudo-classes and pseudo-elements a selector may name. A browser's `querySelector`
/// throws on a name it does not know, so an unknown name is a mistake to report before the run
/// (with the closest known name). The lists are generous: every name of Selectors Level 4
/// (https://www.w3.org/TR/selectors-4/), HTML's (https://html.spec.whatwg.org/#pseudo-classes)
/// and the CSS modules browsers ship, because refusing a selector that works is worse than
/// letting an obscure one through. Vendor-prefixed names (`:-webkit-…`, `::-moz-…`) are always
/// accepted.
enum CSSPseudo {
    /// What a functional pseudo takes between its parentheses.
    enum Argument {
        /// A selector list (`:not`, `:is`, `:where`); `forgiving` lists may be empty.
        case selectors(forgiving: Bool)
        /// A relative selector list (`:has(> img)`).
        case relativeSelectors
        /// An+B (https://www.w3.org/TR/css-syntax-3/#anb-microsyntax), with `of S` when allowed.
        case nth(of: Bool)
        /// One compound selector (`:host(.dark)`, `::slotted(p)`).
        case compound
        /// Identifiers or strings, separated by commas (`:lang(en, "fr-CA")`).
        case names
        /// One or more identifiers separated by blanks (`::part(label icon)`).
        case identifiers
        /// `*` or a name, then optional classes (`::view-transition-group(*)`, `::scroll-button(up)`).
        case transitionName
    }

    /// Left out on purpose: `:first`, `:left`, `:right` (only for `@page`), and `:blank`,
    /// `:local-link`, `:target-within`, `:nth-col()` which no browser implements.
    static let classes: Set<String> = [
        "active", "active-view-transition", "any-link", "autofill", "buffering", "checked", "closed", "current",
        "default", "defined", "disabled", "empty", "enabled", "first-child", "first-of-type", "focus",
        "focus-visible", "focus-within", "fullscreen", "future", "has-slotted", "host", "hover", "in-range",
        "indeterminate", "invalid", "last-child", "last-of-type", "link", "modal", "muted", "only-child",
        "only-of-type", "open", "optional", "out-of-range", "past", "paused", "picture-in-picture",
        "placeholder-shown", "playing", "popover-open", "read-only", "read-write", "required", "root", "scope",
        "seeking", "stalled", "target", "target-current", "user-invalid", "user-valid", "valid", "visited",
        "volume-locked", "xr-overlay",
    ]

    static let functionalClasses: [String: Argument] = [
        "not": .selectors(forgiving: false), "is": .selectors(forgiving: true),
        "where": .selectors(forgiving: true), "has": .relativeSelectors, "nth-child": .nth(of: true),
        "nth-last-child": .nth(of: true),
        "nth-of-type": .nth(of: false), "nth-last-of-type": .nth(of: false), "lang": .names, "dir": .names,
        "host": .compound,
        "host-context": .compound, "state": .identifiers, "active-view-transition-type": .names,
    ]

    /// Written with one colon for compatibility with CSS 2 (Selectors 4, §3.6.1).
    static let legacyElements: Set<String> = ["before", "after", "first-line", "first-letter"]

    static let elements: Set<String> = [
        "after", "backdrop", "before", "checkmark", "column", "cue", "details-content",
        "file-selector-button", "first-letter", "first-line", "grammar-error", "marker", "picker-icon",
        "placeholder", "scroll-marker", "scroll-marker-group", "search-text", "selection", "spelling-error",
        "target-text", "view-transition",
    ]

    static let functionalElements: [String: Argument] = [
        "part": .identifiers, "slotted": .compound, "highlight": .identifiers, "cue": .selectors(forgiving: false),
        "picker": .identifiers, "scroll-button": .transitionName,
        "view-transition-group": .transitionName, "view-transition-image-pair": .transitionName,
        "view-transition-old": .transitionName, "view-transition-new": .transitionName,
    ]

    static func isVendorPrefixed(_ name: String) -> Bool { name.hasPrefix("-") && !name.hasPrefix("--") }

    /// jQuery's selector extensions: not CSS, a common source of selectors copied from scripts.
    static let jQueryOnly: Set<String> = [
        "contains", "eq", "gt", "lt", "first", "last", "even", "odd", "visible", "hidden", "header", "input",
        "button", "checkbox", "radio", "text", "password", "submit", "selected", "animated", "parent",
    ]
}
