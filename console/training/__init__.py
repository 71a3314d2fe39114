"""The trainers' side of the console: inbox, labels, training jobs, comparison, activation (docs/training.md).

Importing the package declares its tables on the console's metadata, so
`console.db.init` creates them with the others.
"""
from console.training import tables  # noqa: F401


def routes() -> list:
    """The trainers' routes (imported late: the pages import the console's web helpers)."""
    from console.training import inbox_pages, model_pages

    return [*inbox_pages.routes, *model_pages.routes]
