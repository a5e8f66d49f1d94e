"""The simulated telephone world: the simulated board (a separate process, the clock master) and the
far ends behind its ports: a central office, analog phones, E1 far ends, a caller-traffic generator.
"""
