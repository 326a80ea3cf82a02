package config

// SecretValues lists the values of every secret the configuration holds,
// for redact.Text: a server that echoes one back must not get it into a
// log, an error or a page.
func (c *Config) SecretValues() []string {
	var out []string
	for _, s := range []Secret{c.StatusToken, c.Notify.SMTP.Password, c.Entra.ClientSecret, c.Entra.CertificatePassword,
		c.GoTo.ClientSecret, c.GoTo.RefreshToken, c.GoTo.PersonalAccessToken, c.GoTo.Password, c.Console.Entra.ClientSecret} {
		if s.IsSet() {
			out = append(out, s.Value())
		}
	}
	return out
}
