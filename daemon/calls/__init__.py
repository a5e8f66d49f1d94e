"""Call control: the call model, the calls and bridges driven by uniform call events (one typed hook
interface, public verbs), the dial plan and inbound routing, class of service, feature codes, PIN guard."""
