"""The yearly report: data read from the marts, formatted, rendered by Jinja2 templates."""
