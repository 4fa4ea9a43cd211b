"""A module that exists only in the test settings. It plugs into the product exactly as the
recipe in docs/architecture.md says, with no edit to a central file, and proves that each
registry picks it up: its capability reaches the Roles page and the isolation matrix, its
navigation entry the menu, its audit action the audit filter, its topic the socket, its pages
and endpoints the URLconf and the OpenAPI schema. Its capability is scoped to a sales rep's own
notes, so the matrix covers "another member's record" too."""
