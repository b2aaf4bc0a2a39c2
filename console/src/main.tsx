// Entry point of the web console that `dbk serve` serves (bundled by console/build.mjs).

import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { App } from './app';
import { applySavedTheme } from './theme';

applySavedTheme();
const root = document.getElementById('app');
if (root) render(<App />, root);
