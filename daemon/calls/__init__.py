"""Call control: the call model, the calls and bridges driven by uniform call events (one typed hook
interface, public verbs), its timers on the frame clock, the dial plan and inbound routing, class of
service, feature codes, the PIN guard."""
