"""Small pure helpers shared by the packages."""
