"""The edition: the day's stories gathered from the sources into one Edition (collect), built
for a list and a moment with the feed cache (build), changed by an editor (edits), and written
to --out (files). Its JSON form, edition.json, is digest.models.edition_to_dict."""
