#!/usr/bin/env python3
"""Writes the autoscaler simulator's load traces (deterministic: no randomness).

Rows: seconds,sessions,requests_per_second. Requests/s are 0.05 per live
session (three chat turns a minute) with a small independent ripple, so the
request-rate and session series agree without being copies of each other.

  diurnal.csv  one day, a row a minute: night floor ~2,000, smooth morning
               rise, afternoon peak ~30,000, evening decline, minute ripple.
  spike.csv    two hours, a row every 10 s: ~4,000 sessions, then a flash
               crowd to x5 within 2 minutes at 30 min, a 10-minute plateau,
               exponential decay (tau 15 min) back to the base.
  ramp.csv     a launch-day ramp, a row every 10 s: 10 minutes steady at
               2,000 sessions, one hour of linear growth to 50,000 (~800 a
               minute), 30 minutes at the top. Slow next to the spike (x25 in
               an hour vs x5 in two minutes) yet steep enough that a fleet at
               rest can fall behind at the bend; an eight-hour ramp was
               tried first and every policy kept up with it (0 minutes over
               capacity each), so it could not tell policies apart.

Run with --ramp-sweep DIR to write the ramp family bench/autoscaler.sh
compares: linear and exponential, 2,000 -> 50,000 over 10 min .. 8 h.
"""
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def ripple(t, amp, periods=(613.0, 1427.0, 3301.0)):
    return 1.0 + amp * sum(math.sin(2 * math.pi * t / p + i) for i, p in enumerate(periods)) / len(periods)


def write(name, rows):
    with open(os.path.join(HERE, name), "w") as f:
        f.write("seconds,sessions,requests_per_second\n")
        for t, s, r in rows:
            f.write(f"{t},{s:.0f},{r:.2f}\n")


def diurnal():
    rows = []
    for t in range(0, 86400 + 1, 60):
        h = t / 3600.0
        day = (0.5 - 0.5 * math.cos(2 * math.pi * (h - 4.0) / 24.0)) ** 2  # peak at 16:00
        s = (2000 + 28000 * day) * ripple(t, 0.03)
        rows.append((t, s, s * 0.05 * ripple(t + 97, 0.02)))
    return rows


def spike():
    rows = []
    base, start, rise, plateau, tau = 4000.0, 1800.0, 120.0, 600.0, 900.0
    for t in range(0, 7200 + 1, 10):
        if t < start:
            k = 1.0
        elif t < start + rise:
            x = (t - start) / rise
            k = 1.0 + 4.0 * (3 * x * x - 2 * x * x * x)  # smooth step to x5
        elif t < start + rise + plateau:
            k = 5.0
        else:
            k = 1.0 + 4.0 * math.exp(-(t - start - rise - plateau) / tau)
        s = base * k * ripple(t, 0.02)
        rows.append((t, s, s * 0.05 * ripple(t + 53, 0.02)))
    return rows


def ramp(duration=3600.0, shape="linear", lo=2000.0, hi=50000.0):
    rows = []
    steady, top = 600.0, 1800.0
    step = 10 if duration <= 7200 else 60
    for t in range(0, int(steady + duration + top) + 1, step):
        x = min(max((t - steady) / duration, 0.0), 1.0)
        if shape == "linear":
            s = lo + (hi - lo) * x
        else:
            s = lo * math.exp(math.log(hi / lo) * x)
        s *= ripple(t, 0.01)
        rows.append((t, s, s * 0.05 * ripple(t + 29, 0.01)))
    return rows


RAMP_SWEEP = [(d, shape) for d in (600, 1200, 1800, 3600, 7200, 14400, 28800)
              for shape in ("linear", "exponential")]

if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "--ramp-sweep":
        os.makedirs(sys.argv[2], exist_ok=True)
        HERE = sys.argv[2]
        for d, shape in RAMP_SWEEP:
            write(f"ramp_{shape}_{d}s.csv", ramp(float(d), shape))
        sys.exit(0)
    write("diurnal.csv", diurnal())
    write("spike.csv", spike())
    write("ramp.csv", ramp())
