"""The leaderboard: turns `submissions/` into a static site and exports."""
