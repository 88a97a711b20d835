import { Link } from "../components/Link.tsx";

export const NotFoundPage = () => (
  <div className="page page-narrow">
    <h1>Page not found</h1>
    <p>There is nothing at this address.</p>
    <ul>
      <li>
        <Link to="/">Sign in</Link>
      </li>
      <li>
        <Link to="/forgot">Forgot your PIN?</Link>
      </li>
    </ul>
  </div>
);
