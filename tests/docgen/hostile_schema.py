"""A small schema whose doc comments try to inject markup, shared by the docgen tests."""

from __future__ import annotations

from pathlib import Path

SCHEMA = """\
##
# = Test <script>alert(1)</script> heading
#
# Some *prose* with <b>tags</b> & "quotes".
##

##
# @Color:
#
# A colour <img src=x onerror=alert(1)>.
#
# @red: the red one ``<code>``
#
# @blue: the blue one
#
# Since: 1.0
##
{ 'enum': 'Color', 'data': [ 'red', { 'name': 'blue', 'if': 'CONFIG_BLUE' } ] }

##
# @Shade:
#
# A shade, see @Color.
#
# @color: its colour
#
# @depth: how deep
#
# @old: the old way
#
# Features:
# @fancy: experimental </dd><script>x</script>
#
# @deprecated: member @old is old
#
# Since: 2.0
##
{ 'struct': 'Shade',
  'data': { 'color': 'Color', '*depth': 'int',
            '*old': { 'type': 'str', 'features': [ 'deprecated' ] } },
  'features': [ 'fancy' ],
  'if': { 'all': [ 'CONFIG_A', { 'not': 'CONFIG_B' } ] } }

##
# @Brush:
#
# A brush.
#
# @kind: what brush
#
# @size: its size
##
{ 'union': 'Brush', 'base': { 'kind': 'Color', '*size': 'int' },
  'discriminator': 'kind', 'data': { 'red': 'Shade' } }

##
# @paint:
#
# Paint with @Shade.  See https://example.org/paint?a=1&b=<x>.
#
# @shades: which shades
#
# Features:
# @deprecated: use @Brush instead
#
# Returns: the @Shade used
#
# Example:
#
# -> { "execute": "paint", "arguments": { "shades": [] } }
# <- { "return": { "color": "<red>" } }
##
{ 'command': 'paint', 'data': { 'shades': ['Shade'] }, 'returns': 'Shade',
  'features': [ 'deprecated' ] }

##
# @PAINTED:
#
# Emitted after painting.
#
# @color: the colour
##
{ 'event': 'PAINTED', 'data': { 'color': 'Color' } }
"""


def write_hostile_schema(directory: Path) -> Path:
    path = directory / "hostile.json"
    path.write_text(SCHEMA, encoding="utf-8")
    return path
