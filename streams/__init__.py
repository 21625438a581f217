"""The stream processors: templates (field maps, defaults, value maps, routing) applied by thin Faust agents."""

from p2c.streams.template import FieldSpec, Template, ValueMap, apply, matches, target_key

__all__ = ["FieldSpec", "Template", "ValueMap", "apply", "matches", "target_key"]
