"""Bitstreams and PPA reports for Lattice iCE40 / ECP5 with Yosys + nextpnr (YoWASP), no vendor tools.

build (CLI, `make bitstream`), sweep (CLI, `make sweep`), ooc (out-of-context PPA for benchmarks),
flow (the tool stages), report (figures), devices (boards), pll, top (clock/reset/shell/core),
bridge + uart + host (the UART host interface), harness (OOC shell), cores / naive (which core: XnorCore or the naive baseline).
"""
