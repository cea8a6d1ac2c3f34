"""The main job: `havre demo` tells the story of a governed project, end to end."""
