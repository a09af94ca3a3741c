"""Helpers the test modules share (fixture repositories, the command line, the Docker
engine). Test modules import from here, never from each other."""
